"""The graph and model the serving benchmarks measure: the demo sample on the bench server, KGCF trained on it.

``demo_environment()`` starts (or reuses) the bench server (``Settings().bench_server()``) and, when
its graph is empty or no checkpoint exists yet, runs ``kgrec ingest sample``, ``kgrec embed`` and
``kgrec train`` against it (runs under ``.kgrec/bench-serving-state``). It returns the environment
variables that point ``kgrec`` at that server and runs folder, and the checkpoint.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, bench_server
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection

#: Where the serving benchmarks keep their runs (checkpoint + serving cache).
STATE = ROOT / ".kgrec" / "bench-serving-state"
KGREC = str(Path(sys.executable).with_name("kgrec"))


def newest_checkpoint(state: Path = STATE) -> Path | None:
    found = sorted((state / "runs").glob("**/kgcf.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def demo_environment(state: Path = STATE) -> tuple[dict[str, str], Path]:
    """(environment for ``kgrec`` subprocesses, the KGCF checkpoint) over the demo graph on the bench server."""
    server = bench_server()
    server.start()
    creds = server.credentials()
    env = {**os.environ, "KGREC_NEO4J_URI": creds.uri, "KGREC_NEO4J_PASSWORD": creds.password,
           "KGREC_STATE_DIR": str(state)}  # fmt: skip
    with GraphConnection(creds) as conn:
        products = conn.count("MATCH (p:Product) RETURN count(p) AS n")
    checkpoint = newest_checkpoint(state)
    if products == 0 or checkpoint is None:
        for step in (["ingest", "sample"], ["embed"], ["train"]):
            subprocess.run([KGREC, *step], env=env, check=True, cwd=ROOT)
        checkpoint = newest_checkpoint(state)
    assert checkpoint is not None
    return env, checkpoint


def settings_for(env: dict[str, str]) -> Settings:
    """Settings that point at the server of ``env``."""
    return Settings(neo4j_uri=env["KGREC_NEO4J_URI"], neo4j_password=env["KGREC_NEO4J_PASSWORD"],
                    state_dir=Path(env["KGREC_STATE_DIR"]))  # fmt: skip

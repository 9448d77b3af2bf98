"""Wall-clock seconds of the command line on the configured (main) graph, end to end as a user runs it.

* ``kgrec --help``, ``kgrec db status``, ``kgrec stats`` — start-up cost (imports, settings);
* ``kgrec recommend USER -k 10`` — with the serving cache next to the checkpoint (``warm``: the
  median of ``repeats`` runs), and the first run after training that builds the cache (``cold``,
  reported once, when no cache exists yet);
* ``kgrec serve`` — until ``/health`` answers, and until it reports the model loaded.

Run it against the full Online Retail shop on the main server (``kgrec ingest online-retail``,
``kgrec embed``, ``kgrec train``), pointing ``KGREC_*`` at it::

    python -m bench.cli_start
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import ROOT, Result, run, write_results
from kgrec.cli.common import newest_checkpoint
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.export import read_node_ids
from kgrec.kg.schema import Label
from kgrec.serving import cache_path

KGREC = str(Path(sys.executable).with_name("kgrec"))


def timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([KGREC, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def serve_ready(checkpoint: Path, timeout_s: float = 300) -> tuple[float, float]:
    """(seconds until /health answers, seconds until the model is loaded) of a fresh ``kgrec serve``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([KGREC, "serve", "--port", str(port), "--checkpoint", str(checkpoint), "--no-bundle-gnn"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    health = loaded = None
    try:
        while time.perf_counter() - t0 < timeout_s and loaded is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).json()
                health = health or time.perf_counter() - t0
                if body.get("model_loaded"):
                    loaded = time.perf_counter() - t0
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)
    if health is None or loaded is None:
        raise RuntimeError(f"kgrec serve was not ready within {timeout_s} s")
    return health, loaded


def main(repeats: int = 5) -> None:
    """Time --help, db status, stats, recommend (cold once, then warm) and serve readiness."""
    settings = Settings()
    checkpoint = newest_checkpoint(settings, "kgcf")
    if checkpoint is None:
        raise SystemExit("no kgcf checkpoint: run `kgrec ingest online-retail`, `kgrec embed`, `kgrec train` first")
    with GraphConnection(settings.credentials()) as conn:
        users = read_node_ids(conn, Label.USER)
        uri = conn.credentials.uri
    user = users[len(users) // 2]
    results = []
    for name, args in (("kgrec --help", ["--help"]), ("kgrec db status", ["db", "status"]), ("kgrec stats", ["stats"])):
        timed(args)
        results.append(Result(name, "warm", "seconds", statistics.median(timed(args) for _ in range(repeats))))
    if not cache_path(checkpoint, uri).is_file():
        results.append(Result("kgrec recommend", "cold", "seconds", timed(["recommend", user, "-k", "10"])))
    results.append(Result("kgrec recommend", "warm", "seconds",
                          statistics.median(timed(["recommend", user, "-k", "10"]) for _ in range(repeats))))  # fmt: skip
    health, loaded = serve_ready(checkpoint)
    results += [
        Result("kgrec serve", "health", "seconds", health),
        Result("kgrec serve", "model_loaded", "seconds", loaded),
    ]
    write_results(
        "cli-start", f"the main graph ({len(users):,} users) at {uri}", results,
        config={"repeats": repeats, "checkpoint": str(checkpoint), "user": user,
                "load_average_1m_at_end": os.getloadavg()[0]},
    )  # fmt: skip


if __name__ == "__main__":
    run(main)

"""What every benchmark shares: the CLI, the one bench Neo4j server, the results file with provenance.

Every script is a typer command run from the repository root, ``python -m bench.<name> [--options]``;
its defaults are the configuration it reports, and :func:`write_results` records that
configuration (``config``) next to the numbers with the provenance of the run::

    {"benchmark", "dataset", "machine", "commit" (git describe --dirty --always), "script_sha"
     (sha256 of the script), "command", "date", "versions", "seeds", "threads", "device",
     "config", "results": [{"model", "split", "metric", "value"}]}
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.local_server import LocalNeo4j

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / ".kgrec" / "bench-cache"


@dataclass(frozen=True)
class Result:
    """One measured number: which model, on which split, which metric."""

    model: str
    split: str
    metric: str
    value: float


def run(main: Callable[..., None]) -> None:
    """Run a benchmark's ``main`` as its command line (typer: one option per parameter, defaults shown)."""
    typer.run(main)


def bench_server(heap: str = "2g", pagecache: str = "1g") -> LocalNeo4j:
    """The one benchmark server (state folder and ports from ``Settings``), so benchmarks never wipe the demo graph."""
    return Settings().bench_server(heap=heap, pagecache=pagecache)


def connect_bench_graph(clear: bool = True) -> GraphConnection:
    """Start (or reuse) the benchmark server and return a connection, emptied if ``clear``."""
    server = bench_server()
    server.start()
    conn = GraphConnection(server.credentials()).connect()
    if clear:
        conn.clear()
    return conn


def machine() -> str:
    """A short description of the machine the numbers came from."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}; {os.cpu_count()} CPU cores"
    cpu = platform.processor() or platform.machine()
    return f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}, no GPU"


def commit() -> str:
    """``git describe --dirty --always`` of the checkout (``unknown`` outside git)."""
    try:
        return subprocess.run(
            ["git", "describe", "--dirty", "--always"], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


#: The code that runs is the code at START: taken when a benchmark imports this module, because other
#: commits may land while a long benchmark runs and ``git describe`` at write time would name them.
STARTED_AT_COMMIT = commit()


def script_sha(script: Path) -> str:
    """sha256 of the benchmark script's source (empty when the file cannot be read)."""
    try:
        return hashlib.sha256(script.read_bytes()).hexdigest()
    except OSError:
        return ""


_started_script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
#: sha of the running benchmark's script as it was at start (edits during a run do not change it)
_STARTED_SCRIPT_SHA = {_started_script: script_sha(_started_script)} if _started_script else {}


def versions() -> dict[str, str]:
    """Versions of python and the libraries the numbers depend on."""
    out = {"python": platform.python_version()}
    for package in ("torch", "torch-geometric", "numpy", "scipy", "neo4j", "kgrec"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def invocation(script: Path) -> str:
    """How this benchmark was started, as a command to rerun from the repository root."""
    if script.suffix == ".py" and script.parent.name == "bench":
        return " ".join(["python -m bench." + script.stem, *sys.argv[1:]])
    return "python " + " ".join(sys.argv)


def write_results(
    name: str,
    dataset: str,
    results: list[Result],
    command: str | None = None,
    *,
    seeds: Sequence[int] = (),
    threads: int | None = None,
    device: str = "cpu",
    config: dict[str, Any] | None = None,
    out_dir: Path = RESULTS,
) -> Path:
    """Write ``<out_dir>/<name>.json`` with the provenance fields and print the table."""
    import torch

    script = Path(sys.argv[0]).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "dataset": dataset,
        "machine": machine(),
        "commit": STARTED_AT_COMMIT,
        "script_sha": _STARTED_SCRIPT_SHA.get(script) or script_sha(script),
        "command": command or invocation(script),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "seeds": list(seeds),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "device": device,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in (config or {}).items()},
        "results": [asdict(r) for r in results],
    }
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print_table(name, results)
    return path


def merged(results: list[Result], models: Sequence[str], path: Path) -> list[Result]:
    """The rows of other models in the results file at ``path`` (read now) followed by ``results``."""
    old = json.loads(path.read_text())["results"] if path.exists() else []
    return [Result(**r) for r in old if r["model"] not in models] + results


def print_table(title: str, results: list[Result]) -> None:
    table = Table(title=title)
    for column in ("model", "split", "metric", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for r in results:
        table.add_row(r.model, r.split, r.metric, f"{r.value:.4f}" if abs(r.value) < 1000 else f"{r.value:,.0f}")
    Console().print(table)

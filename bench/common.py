"""What every benchmark shares: its own Neo4j server, the results file, the printed table."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kgrec.kg.connection import GraphConnection
from kgrec.kg.local_server import LocalNeo4j, ServerConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SHARED_DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Result:
    """One measured number: which model, on which split, which metric."""

    model: str
    split: str
    metric: str
    value: float


def bench_server(heap: str = "2g", pagecache: str = "1g") -> LocalNeo4j:
    """A server of its own (ports 7689/7476) so benchmarks never wipe the demo graph."""
    return LocalNeo4j(
        ServerConfig(
            state_dir=ROOT / ".kgrec" / "bench-neo4j", bolt_port=7689, http_port=7476, heap=heap, pagecache=pagecache
        )
    )


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
    import os

    cpu = platform.processor() or platform.machine()
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)}; {os.cpu_count()} CPU cores"
    except ImportError:  # pragma: no cover
        pass
    return f"{os.cpu_count()} CPU cores ({cpu}), {platform.system()}, no GPU"


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def invocation() -> str:
    """How this benchmark was started, as a command to rerun from the repository root."""
    script = Path(sys.argv[0])
    if script.suffix == ".py" and script.parent.name == "bench":
        return " ".join(["python -m bench." + script.stem, *sys.argv[1:]])
    return "python " + " ".join(sys.argv)


def write_results(name: str, dataset: str, results: list[Result], command: str | None = None) -> Path:
    """Write ``bench/results/<name>.json`` in the project's format and print the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "dataset": dataset,
        "machine": machine(),
        "commit": commit(),
        "command": command or invocation(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": [asdict(r) for r in results],
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print_table(name, results)
    return path


def print_table(title: str, results: list[Result]) -> None:
    table = Table(title=title)
    for column in ("model", "split", "metric", "value"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for r in results:
        table.add_row(r.model, r.split, r.metric, f"{r.value:.4f}" if abs(r.value) < 1000 else f"{r.value:,.0f}")
    Console().print(table)

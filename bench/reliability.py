"""Reliability: the broken-input corpus, Neo4j SIGKILLed mid-ingest, training SIGKILLed and resumed.

Writes ``bench/results/reliability.json`` (split ``all``):

* ``corpus``: ``kinds`` (cases in ``tests/reliability/corpus.py``), ``crashes`` (cases that raised
  anything but a one-sentence IngestError), ``unexpected`` (cases whose outcome differs from the case:
  rows, reasons, lines, graph facts), ``seconds``.
* ``kill-ingest``: ``identical`` (1 if the graph after kill, restart and re-run equals a clean run's
  fingerprint), ``clean_message`` (1 if the killed command printed one ``error:`` line, no traceback,
  exit code 1), ``seconds_to_message`` (kill → the command's exit; the driver retries ~30 s first).
* ``resume``: ``identical`` (1 if a training run SIGKILLed after epoch 3 and resumed has bit-identical
  weights to an uninterrupted run with the same seed).
* ``fuzz`` / ``load-with-ingest``: the HTTP API rows, from :func:`http_rows` (see there).

Runs on the benchmark server (``KGREC_BENCH_*``), which it empties.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Result, bench_server, connect_bench_graph, run, write_results
from kgrec.kg.connection import GraphConnection
from tests.reliability import train_job
from tests.reliability.corpus import CASES
from tests.reliability.harness import kill_mid_ingest, run_case, sample_slice

SPLIT = "all"


def corpus_rows(conn: GraphConnection, work: Path) -> list[Result]:
    """Every corpus case once (no idempotence re-run): kinds, crashes, unexpected outcomes, seconds."""
    started = time.perf_counter()
    crashes = unexpected = 0
    for i, case in enumerate(CASES):
        outcome = run_case(conn, case, work / f"case{i}", twice=False)
        crashes += outcome.crash is not None
        unexpected += bool(outcome.problems)
        if not outcome.ok:
            print(f"{case.name}: {outcome.crash or outcome.problems}")
    seconds = time.perf_counter() - started
    return [
        Result("corpus", SPLIT, "kinds", float(len(CASES))),
        Result("corpus", SPLIT, "crashes", float(crashes)),
        Result("corpus", SPLIT, "unexpected", float(unexpected)),
        Result("corpus", SPLIT, "seconds", seconds),
    ]


def kill_ingest_rows(conn: GraphConnection, work: Path, orders: int) -> list[Result]:
    """Neo4j SIGKILLed while ``kgrec ingest`` writes the first ``orders`` orders of the demo sample."""
    server = bench_server()
    outcome = kill_mid_ingest(conn, server, server.credentials(), sample_slice(work / "shop", 0, orders), work)
    errors = [line for line in outcome.output.splitlines() if line.startswith("error:")]
    clean_message = outcome.returncode == 1 and len(errors) == 1 and "Traceback" not in outcome.output
    print(f"the killed ingest said: {errors[0] if errors else outcome.output[-500:]}")
    return [
        Result("kill-ingest", SPLIT, "identical", float(outcome.identical)),
        Result("kill-ingest", SPLIT, "clean_message", float(clean_message)),
        Result("kill-ingest", SPLIT, "seconds_to_message", outcome.seconds_to_message),
    ]


def resume_rows(work: Path) -> list[Result]:
    identical, killed_at = train_job.killed_and_resumed(work / "train.state.pt")
    return [
        Result("resume", SPLIT, "identical", float(identical)),
        Result("resume", SPLIT, "killed_after_epoch", float(killed_at)),
    ]


def http_rows() -> list[Result]:
    """Hook for the HTTP API rows (owned by the API work, not filled here yet).

    Expected rows, split ``all``: ``fuzz`` ``cases`` and ``server_errors`` (schemathesis/hypothesis
    against the served API with the real trained model and real Neo4j, bounded in time), and
    ``load-with-ingest`` ``errors``, ``lost_rows`` and ``p99_ms`` (requests while an ingest runs).
    Return them as ``Result`` rows; :func:`main` adds whatever this returns to the results file.
    """
    return []


def main(orders: int = 700) -> None:
    """Run the corpus, the kill-mid-ingest fault and the training resume; write the results."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        conn = connect_bench_graph(clear=True)
        try:
            rows = corpus_rows(conn, work / "corpus")
            rows += kill_ingest_rows(conn, work / "kill", orders)
        finally:
            conn.close()
        rows += resume_rows(work)
        rows += http_rows()
    write_results(
        "reliability",
        "broken-input corpus, demo sample slice, toy training run",
        rows,
        seeds=[train_job.CONFIG.seed],
        config={"orders": orders, "cases": len(CASES)},
    )


if __name__ == "__main__":
    run(main)

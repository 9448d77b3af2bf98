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
* ``fuzz`` / ``load-with-ingest``: ``kgrec serve --token`` over a KGCF trained on the demo sample
  (``kgrec ingest``, ``embed``, ``train`` as a user runs them), fuzzed with schemathesis over its
  OpenAPI schema, then loaded at concurrency 16 while ``kgrec ingest`` writes new orders: see
  :func:`http_rows`.

Runs on the benchmark server (``KGREC_BENCH_*``), which it empties.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.common import ROOT, Result, bench_server, connect_bench_graph, run, write_results
from kgrec.ingest.pipeline import SAMPLE_DIR
from kgrec.kg.connection import GraphConnection
from tests.reliability import train_job
from tests.reliability.corpus import CASES
from tests.reliability.harness import KGREC, cli_env, kill_mid_ingest, run_case, sample_slice
from tests.reliability.http_api import (
    Known,
    LoadReport,
    fuzz_api,
    in_graph,
    known_ids,
    landed,
    load_while,
    request_mix,
    served,
)

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


#: The bearer token ``kgrec serve`` is started with for the HTTP checks (sent by the fuzzer and the load).
TOKEN = "reliability-bench-token"


@dataclass(frozen=True)
class HttpConfig:
    """The HTTP checks' budget: the graph the model is trained on, the fuzzing and the load with ingest."""

    trained_orders: int = 2_000  # demo-sample orders (file order) in the graph the model is trained on
    train_epochs: int = 5
    fuzz_examples: int = 20  # hypothesis examples per operation and pass (positive, negative, known ids)
    fuzz_seconds: float = 480.0
    load_seconds: float = 60.0  # at least this long, and until the ingest of the remaining orders ended
    concurrency: int = 16


def kgrec(env: dict[str, str], *args: str) -> str:
    """Run a ``kgrec`` command as a user would; its output, or a RuntimeError with it."""
    done = subprocess.run([KGREC, *args], env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"kgrec {' '.join(args)} failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")  # fmt: skip
    return done.stdout


def http_rows(work: Path, config: HttpConfig) -> list[Result]:
    """``kgrec serve --token`` over a real KGCF on the demo sample's first ``trained_orders`` orders, on the
    bench server (emptied): schemathesis over its OpenAPI schema, then HTTP load at ``concurrency``
    while ``kgrec ingest`` writes the sample's remaining orders.

    Rows, split ``all``: ``fuzz`` ``cases``, ``server_errors`` (responses >= 500 and dropped connections),
    ``ok_answers`` (200s), ``operations`` (operations that got at least one case), ``seconds``; ``load-with-ingest`` ``errors`` (answers other than 200 and
    transport errors), ``lost_rows`` (rows of the new file neither in the graph exactly once nor
    quarantined), ``p50_ms``, ``p99_ms``, ``requests``, ``seconds``, ``new_rows`` (order and order-line
    rows of the new file), ``ingest_seconds``.
    """
    conn = connect_bench_graph(clear=True)
    try:
        env = cli_env(conn.credentials, work / "state")
        kgrec(env, "ingest", str(sample_slice(work / "shop", 0, config.trained_orders)))
        kgrec(env, "embed")
        kgrec(env, "train", "--epochs", str(config.train_epochs))
        (checkpoint,) = (work / "state" / "runs").glob("*/kgcf.pt")
        total = len(pd.read_csv(SAMPLE_DIR / "orders.csv", dtype=str))
        new = sample_slice(work / "new", config.trained_orders, total)
        if in_graph(conn, new) != {"orders": 0, "order_items": 0}:
            raise RuntimeError("the orders to ingest under load are already in the graph")
        with served(env, checkpoint, TOKEN, work / "serve.log") as base:
            known = known_ids(conn)
            fuzz = fuzz_api(base, TOKEN, known, config.fuzz_examples, config.fuzz_seconds)
            for error in fuzz.server_errors[:20]:
                print(f"fuzz server error: {error}")
            print(f"fuzz: {fuzz.cases} cases, statuses {dict(fuzz.statuses)}")
            load, report, ingest_seconds = load_with_ingest(base, env, new, known, config)
        lost = landed(conn, new, report)
    finally:
        conn.close()
    print(f"load: {load.requests} requests, statuses {dict(load.statuses)}; rows {lost}")
    for example in load.examples:
        print(f"load error: {example}")
    return [
        Result("fuzz", SPLIT, "cases", float(fuzz.cases)),
        Result("fuzz", SPLIT, "server_errors", float(len(fuzz.server_errors))),
        Result("fuzz", SPLIT, "ok_answers", float(fuzz.statuses[200])),
        Result("fuzz", SPLIT, "operations", float(len({label.split(" (")[0] for label in fuzz.per_operation}))),
        Result("fuzz", SPLIT, "seconds", fuzz.seconds),
        Result("load-with-ingest", SPLIT, "errors", float(load.errors)),
        Result("load-with-ingest", SPLIT, "lost_rows", float(sum(n.lost for n in lost.values()))),
        Result("load-with-ingest", SPLIT, "p50_ms", load.p50_ms),
        Result("load-with-ingest", SPLIT, "p99_ms", load.p99_ms),
        Result("load-with-ingest", SPLIT, "requests", float(load.requests)),
        Result("load-with-ingest", SPLIT, "seconds", load.seconds),
        Result("load-with-ingest", SPLIT, "new_rows", float(sum(n.read for n in lost.values()))),
        Result("load-with-ingest", SPLIT, "ingest_seconds", ingest_seconds),
    ]


def load_with_ingest(
    base: str, env: dict[str, str], new: Path, known: Known, config: HttpConfig
) -> tuple[LoadReport, dict[str, Any], float]:
    """Start ``kgrec ingest NEW --json`` and load the API until it ended and ``load_seconds`` passed."""
    started = time.perf_counter()
    child = subprocess.Popen([KGREC, "ingest", str(new), "--json"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(child.communicate()))
    reader.start()
    make = request_mix(known.users, known.products)
    load = load_while(base, TOKEN, make, busy=lambda: child.poll() is None, concurrency=config.concurrency,
                      min_seconds=config.load_seconds)  # fmt: skip
    reader.join()
    if child.returncode != 0:
        raise RuntimeError(f"the ingest under load failed ({child.returncode}): {output}")
    return load, json.loads(output[0]), time.perf_counter() - started


def main(
    orders: int = 700,
    trained_orders: int = HttpConfig.trained_orders,
    train_epochs: int = HttpConfig.train_epochs,
    fuzz_examples: int = HttpConfig.fuzz_examples,
    fuzz_seconds: float = HttpConfig.fuzz_seconds,
    load_seconds: float = HttpConfig.load_seconds,
    concurrency: int = HttpConfig.concurrency,
) -> None:
    """Run the corpus, the kill-mid-ingest fault, the training resume and the HTTP checks; write the results."""
    http = HttpConfig(trained_orders, train_epochs, fuzz_examples, fuzz_seconds, load_seconds, concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        conn = connect_bench_graph(clear=True)
        try:
            rows = corpus_rows(conn, work / "corpus")
            rows += kill_ingest_rows(conn, work / "kill", orders)
        finally:
            conn.close()
        rows += resume_rows(work)
        rows += http_rows(work / "http", http)
    write_results(
        "reliability",
        "broken-input corpus, demo sample slice, toy training run; HTTP: KGCF on the demo sample",
        rows,
        seeds=[train_job.CONFIG.seed],
        config={"orders": orders, "cases": len(CASES), **asdict(http), "token": "set (bearer)"},
    )


if __name__ == "__main__":
    run(main)

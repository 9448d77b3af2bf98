"""``kgrec serve`` with a real KGCF checkpoint over the real test server, under fuzzing and under load
while ``kgrec ingest`` writes new orders into the same graph.

The graph is the first 300 orders of the demo sample (all its products and users); KGCF is trained
on it for five epochs, with seeded stand-in text vectors instead of ``kgrec embed`` (the sentence
model would cost a minute; ``bench/reliability.py`` runs the full pipeline). Slow tests (marker
``slow``; ``make test`` runs them); about two minutes together on two cores.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kgrec.gnn.train import RunConfig, TrainConfig, train_on_graph
from kgrec.ingest.pipeline import ingest_source
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.schema import ensure_schema
from tests.reliability.harness import KGREC, cli_env, sample_slice
from tests.reliability.http_api import Known, fuzz_api, in_graph, known_ids, landed, load_while, request_mix, served
from tests.shop_graphs import set_random_vectors

pytestmark = pytest.mark.slow
TOKEN = "fuzz-token-0123456789"
#: Orders of the demo sample in the graph the model is trained on; the load test ingests the next ones.
TRAINED_ORDERS = 300
NEW_ORDERS = 120


@dataclass
class Served:
    base: str
    env: dict[str, str]
    known: Known


@pytest.fixture(scope="module")
def served_demo(
    session_graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The demo-sample slice in the graph, a KGCF trained on it and ``kgrec serve --token --workers 2``
    over both (each worker process loads the model; any may answer)."""
    work = tmp_path_factory.mktemp("served")
    conn = session_graph
    conn.clear()
    ensure_schema(conn)
    ingest_source(conn, sample_slice(work / "shop", 0, TRAINED_ORDERS), write_batch_size=2_000)
    set_random_vectors(conn, [r["id"] for r in conn.read("MATCH (p:Product) RETURN p.id AS id")])
    result = train_on_graph(
        conn,
        RunConfig(
            model="kgcf",
            out_dir=str(work / "state" / "runs" / "kgcf"),
            train=TrainConfig(epochs=5, progress=False, device="cpu"),
        ),
    )
    # 2 epochs left validation at one hit among 13 customers, which one run missed: the server then
    # (rightly) refuses the checkpoint; 5 epochs reach recall@20 0.05
    assert result.checkpoint is not None and result.learned, result.best_valid
    env = cli_env(test_credentials, work / "state")
    with served(env, Path(result.checkpoint), TOKEN, work / "serve.log", workers=2) as base:  # kgrec serve --workers
        yield Served(base, env, known_ids(conn))


def test_fuzzing_the_openapi_schema_finds_no_server_error(served_demo: Served) -> None:
    report = fuzz_api(served_demo.base, TOKEN, served_demo.known, max_examples=6, max_seconds=75)
    assert report.server_errors == []
    assert report.unauthorised == 0  # the token was sent: the routes ran
    assert report.cases >= 150 and report.statuses[200] >= 50  # schema-valid calls with known ids answered
    assert report.statuses[400] > 0 and report.statuses[404] > 0  # hostile and unknown input was refused


def test_load_while_new_orders_are_ingested_loses_nothing(
    served_demo: Served, session_graph: GraphConnection, tmp_path: Path
) -> None:
    new = sample_slice(tmp_path / "new", TRAINED_ORDERS, TRAINED_ORDERS + NEW_ORDERS)
    assert in_graph(session_graph, new) == {"orders": 0, "order_items": 0}  # the orders really are new
    ingest = subprocess.Popen(
        [KGREC, "ingest", str(new), "--json", "--write-batch-size", "500"],
        env=served_demo.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(ingest.communicate(timeout=600)))
    reader.start()
    make = request_mix(served_demo.known.users, served_demo.known.products)
    load = load_while(served_demo.base, TOKEN, make, busy=lambda: ingest.poll() is None, concurrency=16, min_seconds=5)
    reader.join()
    assert ingest.returncode == 0, output
    assert load.requests > 16 and load.errors == 0, (load.statuses, load.examples)
    after = landed(session_graph, new, json.loads(output[0]))
    assert after["orders"].read == NEW_ORDERS and after["order_items"].read > NEW_ORDERS
    assert {name: n.lost for name, n in after.items()} == {"orders": 0, "order_items": 0}, after

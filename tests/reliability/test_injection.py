"""No Cypher injection: hostile strings through every input that reaches Cypher (ingest ids, titles,
column names; CLI arguments) are stored or looked up as data and change nothing else (graph checksum)."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.ingest.pipeline import ingest_source
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from tests.reliability.corpus import ITEMS, ORDERS, PRODUCTS, text
from tests.reliability.harness import fingerprint

runner = CliRunner()

HOSTILE = [
    "' OR 1=1 //",
    "x'}) DETACH DELETE n //",
    '") MATCH (n) DETACH DELETE n //',
    "`) MATCH (n) DETACH DELETE n //",
    "'; MATCH (n) DETACH DELETE n; //",
    "$rows",
    "{id: 'p1'}",
    "\\' DETACH DELETE n //",
    "CALL dbms.security.createUser('x', 'y', false)",
    "p1` SET n:Admin //",
]


def base_shop(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("products", PRODUCTS), ("orders", ORDERS), ("order_items", ITEMS)):
        (folder / f"{name}.csv").write_bytes(text(*rows))
    return folder


def hostile_shop(folder: Path) -> Path:
    """Every hostile string as a product id, a title, a user id, an order id and a column name."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["product_id", "title", *(f"attr:{h}" for h in HOSTILE[:3]), *HOSTILE[3:6]]
    with open(folder / "products.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i, h in enumerate(HOSTILE):
            writer.writerow([f"H{i}{h}", h, *(["v"] * 3), *(["w"] * 3)])
    with open(folder / "orders.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "user_id", "timestamp"])
        for i, h in enumerate(HOSTILE):
            writer.writerow([f"O{i}{h}", f"U{i}{h}", "2011-05-01T00:00:00Z"])
    with open(folder / "order_items.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "product_id", "quantity"])
        for i, h in enumerate(HOSTILE):
            writer.writerow([f"O{i}{h}", f"H{i}{h}", 1])
    return folder


def test_hostile_ingest_stores_data_as_data(graph: GraphConnection, tmp_path: Path) -> None:
    ingest_source(graph, base_shop(tmp_path / "base"), copurchase=False)
    before = fingerprint(graph)
    report = ingest_source(graph, hostile_shop(tmp_path / "hostile"), copurchase=False)
    assert report.quarantined == 0 and report.accepted == 3 * len(HOSTILE)
    for i, h in enumerate(HOSTILE):
        row = graph.read("MATCH (p:Product {id: $id}) RETURN p.title AS title", {"id": f"H{i}{h}"})
        assert row == [{"title": h}]
        assert (
            graph.count(
                "MATCH (:User {id: $u})-[:PLACED]->(:Order {id: $o})-[:CONTAINS]->(:Product {id: $p}) RETURN count(*) AS n",
                {"u": f"U{i}{h}", "o": f"O{i}{h}", "p": f"H{i}{h}"},
            )
            == 1
        )
    assert graph.count("MATCH (n:Admin) RETURN count(n) AS n") == 0
    assert graph.count("SHOW USERS YIELD user WHERE user = 'x' RETURN count(*) AS n") == 0
    # removing exactly the hostile rows gives back the graph as it was
    graph.write(
        "MATCH (n) WHERE n.id STARTS WITH 'H' OR n.id STARTS WITH 'O' OR n.id STARTS WITH 'U' "
        "OR n:Attribute DETACH DELETE n"
    )
    assert fingerprint(graph) == before


def test_hostile_cli_arguments_change_nothing(
    graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    ingest_source(graph, base_shop(tmp_path / "base"))
    before = fingerprint(graph)
    env = {
        "KGREC_NEO4J_URI": test_credentials.uri,
        "KGREC_NEO4J_PASSWORD": test_credentials.password,
        "KGREC_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "200",
    }
    for h in HOSTILE:
        for args in (
            ["explain", h, h],
            ["query", "bought_with", "-p", f"product_id={h}"],
            ["query", "bought_with", "-p", f"{h}=p1"],
            ["similar", h, "--text"],
            ["recommend", h],
            ["basket", "complete", h, "p1"],
            ["bundles", "recommend", h],
        ):
            result = runner.invoke(app, args, env=env)
            assert result.exit_code in (0, 1, 2) and (
                result.exception is None or isinstance(result.exception, SystemExit)
            ), (args, result.output, result.exception)
    assert fingerprint(graph) == before

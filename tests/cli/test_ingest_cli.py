"""``kgrec ingest`` and ``kgrec sample build`` through the real CLI, against the test server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.kg.connection import GraphConnection, Neo4jCredentials

runner = CliRunner()


def text(output: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(output.split())


def env(creds: Neo4jCredentials, tmp_path: Path) -> dict[str, str]:
    return {
        "KGREC_NEO4J_URI": creds.uri,
        "KGREC_NEO4J_PASSWORD": creds.password,
        "KGREC_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": "200",
    }


def test_ingest_folder_prints_a_summary_and_quarantines(
    graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    (shop / "products.csv").write_text("product_id,title,price\np1,Mug,3\np2,Cup,-1\n")
    (shop / "orders.csv").write_text("order_id,user_id,timestamp\no1,u1,2011-01-01T00:00:00\n")
    (shop / "order_items.csv").write_text("order_id,product_id,quantity\no1,p1,1\n")
    result = runner.invoke(app, ["ingest", str(shop)], env=env(test_credentials, tmp_path))
    assert result.exit_code == 0, result.output
    assert "products.csv" in text(result.output) and "price_out_of_range 1" in text(result.output)
    assert (tmp_path / "state" / "quarantine" / "shop" / "products.quarantine.csv").is_file()
    assert graph.count("MATCH (:User {id: 'u1'})-[:PURCHASED]->(:Product {id: 'p1'}) RETURN count(*) AS n") == 1

    as_json = runner.invoke(
        app, ["ingest", str(shop), "--json", "--no-copurchase"], env=env(test_credentials, tmp_path)
    )
    report = json.loads(as_json.output)
    assert (report["read"], report["accepted"], report["quarantined"], report["copurchase"]) == (4, 3, 1, None)


def test_ingest_errors_exit_with_a_message(test_credentials: Neo4jCredentials, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(tmp_path)], env=env(test_credentials, tmp_path))
    assert result.exit_code == 1 and "no products.csv" in text(result.output)
    result = runner.invoke(
        app, ["ingest", "movielens", "--data-dir", str(tmp_path)], env=env(test_credentials, tmp_path)
    )
    assert result.exit_code == 1 and "--data-dir" in text(result.output)


def test_sample_build_writes_the_folder(shared_data: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", "build", "--out", str(tmp_path / "s"), "--data-dir", str(shared_data)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "order_items.csv").is_file() and "300 customers" in text(result.output)

"""``kgrec stats`` says what the shop's orders support, against the test server."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from tests.cli.test_ingest_cli import env, text
from tests.shop_graphs import build_shop_graph

runner = CliRunner()


def test_stats_counts_returning_customers_and_names_the_meaningful_tasks(
    graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    build_shop_graph(graph, n_users=24, per_theme=10, orders_per_user=5)
    result = runner.invoke(app, ["stats", "--json"], env=env(test_credentials, tmp_path))
    assert result.exit_code == 0, result.output
    shop = json.loads(result.output)["shop"]
    assert shop["customers"] == 24 and shop["customers_3_orders"] == 24 and shop["orders"] == 24 * 5
    assert shop["products_without_text"] == shop["products"] == 40
    result = runner.invoke(app, ["stats"], env=env(test_credentials, tmp_path))
    out = text(result.output)
    assert "user→product ranking (--split temporal or leave-last-basket): meaningful" in out
    assert "40 of 40 products have no text vector yet" in out


def test_stats_of_one_time_buyers_points_to_the_basket_task(
    graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    build_shop_graph(graph, n_users=24, per_theme=10, orders_per_user=1)
    result = runner.invoke(app, ["stats"], env=env(test_credentials, tmp_path))
    out = text(result.output)
    assert "user→product ranking (--split temporal or leave-last-basket): NOT meaningful; 0 of 24" in out

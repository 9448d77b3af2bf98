"""Bundles for a session through the serving layer, HTTP (POST /bundles/session) and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kgrec.api import create_app
from kgrec.cli import app
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from tests.api.test_api import settings_for
from tests.serving.popularity import popularity_serving

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def client(shop: GraphConnection, test_credentials: Neo4jCredentials) -> Iterator[TestClient]:
    app_ = create_app(settings_for(test_credentials), serving=popularity_serving(shop))
    with TestClient(app_) as test_client:
        yield test_client


def test_serving_ranks_the_bundles_holding_the_session(shop: GraphConnection) -> None:
    page = popularity_serving(shop).recommend_bundles_for_session(["P1", "P6", "P1"], k=2, compose_size=1)
    # B1 (P1, P2, P6) holds the session and has a user; one user-bundle interaction is too little for the GNN
    assert [b.bundle_id for b in page.items] == ["B1", "B2"] and page.how == "item overlap + popularity"
    assert page.note is None and page.basket == ["P1", "P6"]
    assert page.composed is not None and [i.product_id for i in page.composed.items] == ["P1", "P6", "P2"]


def test_http_session_bundles(client: TestClient) -> None:
    body = client.post("/bundles/session", json={"product_ids": ["P1", "P2"], "k": 1, "compose_size": 0}).json()
    assert [b["bundle_id"] for b in body["items"]] == ["B1"] and body["composed"] is None
    assert body["items"][0]["products"][0] == {"product_id": "P1", "score": 0.0, "price": 2.55, "reasons": [],
                                               "title": "WHITE HANGING HEART T-LIGHT HOLDER"}  # fmt: skip
    assert "holds 2 of your session's products: P1, P2" in body["items"][0]["reasons"]
    composed = client.post("/bundles/session", json={"product_ids": ["P1"], "compose_size": 1}).json()["composed"]
    assert [p["product_id"] for p in composed["products"]] == ["P1", "P2"] and composed["total_price"] == 5.5
    assert client.post("/bundles/session", json={"product_ids": ["NOPE"]}).status_code == 404
    assert client.post("/bundles/session", json={"product_ids": []}).status_code == 400
    assert client.post("/bundles/session", json={"product_ids": ["P1"], "k": 51}).status_code == 400
    too_many = client.post("/bundles/session", json={"product_ids": [f"P{i}" for i in range(201)]})
    assert too_many.status_code == 400


def test_cli_basket(shop: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path) -> None:
    env = {"KGREC_NEO4J_URI": test_credentials.uri, "KGREC_NEO4J_PASSWORD": test_credentials.password,
           "KGREC_STATE_DIR": str(tmp_path), "COLUMNS": "250"}  # fmt: skip
    out = CliRunner().invoke(app, ["bundles", "recommend", "--basket", "P3,P5", "-k", "2", "--compose", "1"], env=env)
    assert out.exit_code == 0, out.output
    assert "bundles for session P3, P5 (item overlap + popularity)" in out.output
    assert "B2" in out.output and "composed around the session" in out.output and "P4" in out.output
    missing = CliRunner().invoke(app, ["bundles", "recommend"], env=env)
    assert missing.exit_code != 0 and "--basket" in missing.output


def test_no_bundles_says_what_to_do(graph: GraphConnection) -> None:
    graph.write("CREATE (:Product {id: 'x'})")
    from kgrec.serving import Serving

    page = Serving(lambda: graph, None).recommend_bundles_for_session(["x"], use_model=False)
    assert page.items == [] and "kgrec bundles mine" in (page.note or "")

"""The HTTP API against the real test graph, over a real serving index (popularity vectors, not mocked)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kgrec.api import MAX_BODY_BYTES, create_app
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j
from tests.serving.popularity import popularity_serving

pytestmark = pytest.mark.neo4j


def settings_for(credentials: Neo4jCredentials) -> Settings:
    return Settings(neo4j_uri=credentials.uri, neo4j_user=credentials.user, neo4j_password=credentials.password)


@pytest.fixture(scope="module")
def client(shop: GraphConnection, test_credentials: Neo4jCredentials) -> Iterator[TestClient]:
    app = create_app(settings_for(test_credentials), serving=popularity_serving(shop))
    with TestClient(app) as test_client:
        yield test_client


def test_page_and_health(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "/graph/neighbourhood" in page.text and "https://" not in page.text
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["neo4j"] is True and health["model_loaded"] is True
    assert client.get("/docs").status_code == 200


def test_neighbourhood_returns_nodes_and_edges(client: TestClient) -> None:
    body = client.get("/graph/neighbourhood", params={"id": "P1", "label": "Product", "limit": 50}).json()
    assert body["center"] == {"uid": "Product:P1", "id": "P1", "label": "Product",
                              "caption": "WHITE HANGING HEART T-LIGHT HOLDER"}  # fmt: skip
    uids = {n["uid"] for n in body["nodes"]}
    assert {"Product:P2", "Category:Home > Candles", "User:U1"} <= uids and body["degree"] == 12
    edge = next(e for e in body["edges"] if e["type"] == "BOUGHT_WITH" and e["target"] == "Product:P2")
    assert edge["source"] == "Product:P1" and edge["properties"]["lift"] == 12.3
    purchase = next(e for e in body["edges"] if e["type"] == "PURCHASED" and e["source"] == "User:U1")
    assert purchase["properties"]["last"].startswith("2011-01-20")  # temporal values as ISO text
    assert client.get("/graph/neighbourhood", params={"id": "NOPE"}).status_code == 404
    bad = client.get("/graph/neighbourhood", params={"id": "P1", "label": "Widget"})
    assert bad.status_code == 400 and "not a node label" in bad.json()["detail"]
    assert client.get("/graph/neighbourhood", params={"id": "P1", "limit": 0}).status_code == 400


def test_products(client: TestClient) -> None:
    detail = client.get("/products/P2").json()
    assert detail["categories"] == ["Home > Candles"] and detail["bought_with"][0]["product_id"] == "P1"
    missing = client.get("/products/NOPE")
    assert missing.status_code == 404 and "NOPE" in missing.json()["detail"]
    hits = client.get("/products/search", params={"q": "hanging heart", "k": 5}).json()
    assert {h["product_id"] for h in hits} == {"P1", "P2"}
    assert client.get("/products/search", params={"q": ""}).status_code == 400
    assert client.get("/products/search", params={"q": "?!"}).status_code == 400
    similar = client.get("/products/P1/similar", params={"k": 1}).json()  # 4 buyers x 3 buyers of P1
    assert similar == [{"product_id": "P2", "score": 12.0, "title": "RED HANGING HEART T-LIGHT HOLDER"}]
    assert client.get("/products/NOPE/similar").status_code == 404
    assert client.get("/products/popular", params={"k": 1}).json()[0]["product_id"] == "P2"


def test_recommendations_with_explanations(client: TestClient) -> None:
    body = client.get("/users/U1/recommendations", params={"k": 2}).json()
    assert [i["product_id"] for i in body["items"]] == ["P2", "P4"] and body["items"][0]["rank"] == 1
    top = body["items"][1]["explanation"]["reasons"][0]
    assert top["kind"] == "copurchase" and "(lift 5.0, in 12 orders)" in top["text"]
    assert top["path"] == [{"label": "User", "id": "U1"}, {"label": "Product", "id": "P3"},
                           {"label": "Product", "id": "P4"}]  # fmt: skip
    plain = client.get("/users/U1/recommendations", params={"k": 1, "explain": "false"}).json()
    assert plain["items"][0]["explanation"] is None
    assert client.get("/users/NOPE/recommendations").status_code == 404
    assert client.get("/users/U1/recommendations", params={"k": 0}).status_code == 400
    cold = client.get("/users/U5/recommendations", params={"k": 2}).json()  # no purchases: says so
    assert len(cold["items"]) == 2 and "no purchases" in cold["note"]


def test_explained_pages_from_the_path_index_equal_the_cypher_ones(
    client: TestClient, shop: GraphConnection, test_credentials: Neo4jCredentials
) -> None:
    app = create_app(settings_for(test_credentials), serving=popularity_serving(shop, path_index=True))
    with TestClient(app) as fast:
        assert fast.get("/health").json()["path_index_loaded"] is True
        assert client.get("/health").json()["path_index_loaded"] is False
        for user in ("U1", "U2", "U3", "U4", "U6"):
            params = {"k": 6, "reasons": 3}
            got = fast.get(f"/users/{user}/recommendations", params=params).json()
            assert got == client.get(f"/users/{user}/recommendations", params=params).json()
            assert all(item["explanation"]["reasons"] for item in got["items"])


def test_session_recommendations_for_visitors(client: TestClient) -> None:
    body = client.post("/recommendations/session", json={"product_ids": ["P2"], "k": 2}).json()
    assert body["basket"] == ["P2"] and [i["product_id"] for i in body["items"]] == ["P1", "P3"]
    assert body["items"][0]["explanation"]["reasons"][0]["kind"] == "copurchase"  # P1 is bought with P2
    assert client.post("/recommendations/session", json={"product_ids": []}).status_code == 400


def test_users(client: TestClient) -> None:
    assert client.get("/users/U1").json()["purchased"] == 2
    assert [h["product_id"] for h in client.get("/users/U1/history").json()] == ["P1", "P3"]
    assert client.get("/users/NOPE/history").status_code == 404


def test_score(client: TestClient) -> None:
    body = client.post("/score", json={"user_id": "U1", "product_ids": ["P2", "P6"]}).json()
    assert body["scores"] == [{"product_id": "P2", "score": 4.0, "title": "RED HANGING HEART T-LIGHT HOLDER"},
                              {"product_id": "P6", "score": 0.0, "title": "ALARM CLOCK BAKELIKE GREEN"}]  # fmt: skip
    bad = client.post("/score", json={"user_id": "U1", "product_ids": []})
    assert bad.status_code == 400 and "product_ids" in bad.json()["detail"]


def test_explain_endpoint(client: TestClient) -> None:
    body = client.get("/explain", params={"user_id": "U1", "product_id": "P2"}).json()
    assert body["summary"].startswith("You bought WHITE HANGING HEART") and len(body["reasons"]) == 3
    assert client.get("/explain", params={"user_id": "U1", "product_id": "NOPE"}).status_code == 404
    assert client.get("/explain", params={"user_id": "U1"}).status_code == 400


def test_bundles_through_gnn_bundles(client: TestClient) -> None:
    basket = client.post("/basket/complete", json={"product_ids": ["P1"], "k": 2, "explain": True}).json()
    assert [i["product_id"] for i in basket["items"]] == ["P2", "P3"]
    assert "lift 12.3" in basket["items"][0]["model_reasons"][0]
    assert basket["items"][0]["explanation"]["reasons"][0]["kind"] == "copurchase"
    cheap = client.post("/basket/complete", json={"product_ids": ["P1"], "max_price": 2.0}).json()
    assert [i["product_id"] for i in cheap["items"]] == ["P3", "P4"]  # P3 is bought with P1; P4 only popular
    bags = client.post("/basket/complete", json={"product_ids": ["P1"], "category": "Bags"}).json()
    assert [i["product_id"] for i in bags["items"]] == ["P3", "P4"]  # sub-categories of Bags
    none = client.post("/basket/complete", json={"product_ids": ["P1"], "max_price": 0.5}).json()
    assert none["items"] == [] and "--max-price" in none["note"]
    assert client.post("/basket/complete", json={"product_ids": ["NOPE"]}).status_code == 404
    bundles = client.get("/users/U1/bundles").json()
    assert [b["bundle_id"] for b in bundles] == ["B2", "B1"]
    # one user-bundle interaction is too little for the bundle GNN: item overlap ranks them
    assert all(b["reasons"][0].startswith("item overlap score") for b in bundles)
    heart = bundles[1]
    assert heart["products"][0] == {"product_id": "P1", "score": 0.0, "title": "WHITE HANGING HEART T-LIGHT HOLDER",
                                    "price": 2.55, "reasons": []}  # fmt: skip
    composed = client.post("/bundles/compose", json={"user_id": "U1", "anchor_product_id": "P1", "size": 2}).json()
    assert [p["product_id"] for p in composed["products"]] == ["P1", "P2"] and composed["total_price"] == 5.5
    # the name before anchor_product_id still reads the same
    old = client.post("/bundles/compose", json={"user_id": "U1", "seed_product_id": "P1", "size": 2}).json()
    assert old["products"] == composed["products"]
    assert client.post("/bundles/compose", json={"user_id": "U1", "size": 1}).status_code == 400
    assert client.post("/bundles/compose", json={"user_id": "NOPE", "size": 2}).status_code == 404


def test_without_a_model_graph_routes_work_and_model_routes_say_what_to_run(
    shop: GraphConnection, test_credentials: Neo4jCredentials
) -> None:
    with TestClient(create_app(settings_for(test_credentials))) as bare:
        response = bare.get("/users/U1/recommendations")
        assert response.status_code == 503 and "kgrec train" in response.json()["detail"]
        basket = bare.post("/basket/complete", json={"product_ids": ["P1"], "k": 1})  # graph-only completion
        assert basket.status_code == 200 and basket.json()["items"][0]["product_id"] == "P2"
        assert bare.get("/products/P1").status_code == 200
    with TestClient(create_app(settings_for(test_credentials), Path("runs/x.pt"), refresh_s=0)) as failing:
        time.sleep(0.5)
        response = failing.get("/users/U1/recommendations")
        assert response.status_code == 503 and "runs/x.pt" in response.json()["detail"]
        assert "runs/x.pt" in failing.get("/health").json()["model_error"]


def test_token_body_limits_and_errors_without_internals(
    shop: GraphConnection, test_credentials: Neo4jCredentials
) -> None:
    app = create_app(settings_for(test_credentials), serving=popularity_serving(shop), token="s3cret")
    with TestClient(app) as guarded:
        assert guarded.get("/health").status_code == 200  # open: the probe
        page = guarded.get("/")  # open: the explorer page holds no data, it sends the token itself
        assert page.status_code == 200 and "kgrec-token" in page.text
        denied = guarded.get("/users/U1/recommendations")
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        assert guarded.get("/products/P1", headers={"Authorization": "Bearer wrong"}).status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        assert guarded.get("/users/U1/recommendations", params={"k": 1}, headers=auth).status_code == 200
        big = guarded.post("/basket/complete", content=b"x" * (MAX_BODY_BYTES + 1),
                           headers={**auth, "content-type": "application/json"})  # fmt: skip
        assert big.status_code == 413
        many = guarded.post("/score", json={"user_id": "U1", "product_ids": ["P1"] * 1001}, headers=auth)
        assert many.status_code == 400 and "1000" in many.json()["detail"]
        long_id = guarded.post("/basket/complete", json={"product_ids": ["P" * 201]}, headers=auth)
        assert long_id.status_code == 400
        broken = guarded.get("/graph/neighbourhood", params={"id": "P1", "label": "Product; DROP"}, headers=auth)
        assert broken.status_code == 400 and "Traceback" not in broken.text


def test_unreachable_neo4j_answers_503() -> None:
    settings = Settings(neo4j_uri="bolt://127.0.0.1:9", neo4j_password="x")
    with TestClient(create_app(settings)) as down:
        health = down.get("/health")
        assert health.status_code == 503 and health.json()["neo4j"] is False
        response = down.get("/products/P1")
        assert response.status_code == 503 and "bolt://127.0.0.1:9" in response.json()["detail"]


def test_cli_query_and_explain(shop: GraphConnection, test_credentials: Neo4jCredentials) -> None:
    import json

    from typer.testing import CliRunner

    from kgrec.cli import app

    env = {"KGREC_NEO4J_URI": test_credentials.uri, "KGREC_NEO4J_PASSWORD": test_credentials.password}
    runner = CliRunner()
    listed = runner.invoke(app, ["query", "--list"])
    assert listed.exit_code == 0 and "explain_copurchase" in listed.output
    rows = runner.invoke(app, ["query", "bought_with", "-p", "product_id=P1", "-p", "limit=1", "--json"], env=env)
    assert rows.exit_code == 0 and json.loads(rows.output)[0]["product_id"] == "P2"
    bad = runner.invoke(app, ["query", "bought_with", "-p", "colour=red"], env=env)
    assert bad.exit_code == 1 and "colour=red" in bad.output
    explained = runner.invoke(app, ["explain", "U1", "P2", "--json"], env=env)
    assert explained.exit_code == 0 and json.loads(explained.output)["reasons"][0]["kind"] == "copurchase"
    missing = runner.invoke(app, ["explain", "U1", "NOPE"], env=env)
    assert missing.exit_code == 1 and "NOPE" in missing.output


def test_a_stopped_server_fails_fast_and_the_api_recovers(
    shop: GraphConnection, test_credentials: Neo4jCredentials, test_server: LocalNeo4j, test_settings: Settings
) -> None:
    """Stop the real test server under a running app: 503 in seconds; start it: 200 without a restart."""
    if test_settings.test_neo4j_uri:
        pytest.skip("the test server is not ours to stop")
    app = create_app(settings_for(test_credentials), serving=popularity_serving(shop))
    with TestClient(app) as client:
        assert client.get("/products/P1").status_code == 200
        test_server.stop()
        try:
            t0 = time.perf_counter()
            down = client.get("/products/P1")
            assert down.status_code == 503 and down.json()["error"] == "Neo4jUnavailableError"
            assert time.perf_counter() - t0 < 10 and "Traceback" not in down.text
            assert client.get("/health").status_code == 503
            assert client.get("/users/U1/recommendations", params={"k": 2, "explain": "false"}).status_code == 200
        finally:
            test_server.start()
        for _ in range(30):  # the driver reconnects by itself
            if client.get("/products/P1").status_code == 200:
                break
            time.sleep(1)
        assert client.get("/products/P1").status_code == 200 and client.get("/health").json()["neo4j"] is True

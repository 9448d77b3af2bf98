"""Basket completion, bundle composition and their CLI on a tiny hand-built shop graph (real Neo4j)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.gnn.bundles import BundleError, ModelLink, complete_basket, compose_bundle
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.copurchase import recompute_bought_with
from kgrec.kg.errors import UnknownEntityError
from kgrec.kg.schema import ensure_vector_index

pytestmark = pytest.mark.neo4j

# id: (title, price, category, type, embedding, in_stock)
PRODUCTS: dict[str, tuple[str, float, str, str, list[float], bool]] = {
    "tea": ("Tea pot", 20.0, "Kitchen>Tea", "teapot", [1, 0, 0, 0], True),
    "cup": ("Tea cup", 5.0, "Kitchen>Tea", "cup", [0.6, 0.8, 0, 0], True),
    "cup2": ("Tea cup blue", 6.0, "Kitchen>Tea", "cup", [0.6, 0.78, 0.1, 0], True),
    "sugar": ("Sugar bowl", 8.0, "Kitchen>Tea", "bowl", [0.5, 0.3, 0.3, 0.5], True),
    "spoon": ("Tea spoon", 3.0, "Kitchen>Cutlery", "spoon", [0.2, 0.3, 0.1, 0.9], True),
    "lamp": ("Desk lamp", 30.0, "Home>Lighting", "lamp", [0, 0, 1, 0], True),
    "bulb": ("Light bulb", 2.0, "Home>Lighting", "bulb", [0, 0, 0.9, 0.1], False),
    "candle": ("Candle", 4.0, "Home>Lighting", "candle", [0, 0.1, 0.7, 0.3], True),
}
ORDERS = {  # order: (user, products)
    "o1": ("u1", ["tea", "cup", "sugar"]),
    "o2": ("u1", ["tea", "cup"]),
    "o3": ("u2", ["tea", "cup", "spoon"]),
    "o4": ("u2", ["lamp", "bulb"]),
    "o5": ("u3", ["lamp", "bulb", "candle"]),
    "o6": ("u3", ["tea", "sugar"]),
    "o7": ("u4", ["cup", "spoon"]),
    "o8": ("u4", ["lamp", "candle"]),
    "o9": ("u4", ["cup2", "tea"]),
}


def build_shop(conn: GraphConnection) -> None:
    """Products, categories, attributes, orders, purchases, BOUGHT_WITH and the vector index."""
    rows = [
        {
            "id": pid,
            "title": t,
            "price": p,
            "cat": c,
            "parent": c.split(">")[0],
            "type": ty,
            "vec": [float(x) for x in v],
            "stock": s,
        }
        for pid, (t, p, c, ty, v, s) in PRODUCTS.items()
    ]
    conn.write(
        "UNWIND $rows AS r CREATE (p:Product {id: r.id, title: r.title, price: r.price, embedding: r.vec, "
        "in_stock: r.stock}) MERGE (c:Category {path: r.cat}) MERGE (top:Category {path: r.parent}) "
        "MERGE (c)-[:CHILD_OF]->(top) CREATE (p)-[:IN_CATEGORY]->(c) "
        "MERGE (a:Attribute {key: 'type=' + r.type}) SET a.name = 'type', a.value = r.type "
        "CREATE (p)-[:HAS_ATTRIBUTE]->(a)",
        {"rows": rows},
    )
    orders = [{"o": o, "u": u, "items": items, "ts": i} for i, (o, (u, items)) in enumerate(ORDERS.items())]
    conn.write(
        "UNWIND $rows AS r MERGE (u:User {id: r.u}) CREATE (u)-[:PLACED]->(o:Order {id: r.o, timestamp: r.ts}) "
        "WITH u, o, r UNWIND r.items AS pid MATCH (p:Product {id: pid}) CREATE (o)-[:CONTAINS]->(p) "
        "MERGE (u)-[b:PURCHASED]->(p) SET b.count = coalesce(b.count, 0) + 1",
        {"rows": orders},
    )
    recompute_bought_with(conn, min_orders=1)
    ensure_vector_index(conn, 4)


@pytest.fixture()
def shop(graph: GraphConnection) -> GraphConnection:
    build_shop(graph)
    return graph


def ids(result) -> list[str]:
    return [s.product_id for s in result.suggestions]


def test_ranks_the_most_frequent_companion_first_with_evidence(shop: GraphConnection) -> None:
    result = complete_basket(shop, ["tea"], k=5)
    assert ids(result)[0] == "cup"  # bought with tea in 4 of 5 tea baskets
    top = result.suggestions[0]
    bw = [e for e in top.evidence if e.kind == "bought_with"]
    assert bw and bw[0].basket_item == "tea" and "lift" in bw[0].detail
    assert any("often bought with Tea pot" in r for r in top.reasons)
    assert any(e.kind == "category" and e.detail == "Kitchen>Tea" for e in top.evidence)
    scores = [s.score for s in result.suggestions]
    assert scores == sorted(scores, reverse=True)


def test_excludes_basket_items(shop: GraphConnection) -> None:
    result = complete_basket(shop, ["tea", "cup"], k=10)
    assert "tea" not in ids(result) and "cup" not in ids(result)
    assert "sugar" in ids(result) and "spoon" in ids(result)


def test_price_category_and_stock_filters(shop: GraphConnection) -> None:
    cheap = complete_basket(shop, ["tea"], k=10, max_price=6.0)
    assert cheap.suggestions and all(s.price is not None and s.price <= 6.0 for s in cheap.suggestions)
    assert "sugar" not in ids(cheap)
    kitchen = complete_basket(shop, ["tea", "lamp"], k=10, category="Kitchen")
    assert set(ids(kitchen)) <= {"cup", "cup2", "sugar", "spoon"} and "spoon" in ids(kitchen)
    lit = complete_basket(shop, ["lamp"], k=10)
    assert "bulb" not in ids(lit) and "candle" in ids(lit)
    assert "bulb" in ids(complete_basket(shop, ["lamp"], k=10, in_stock_only=False))


def test_unknown_product_and_empty_basket_fail_clearly(shop: GraphConnection) -> None:
    with pytest.raises(UnknownEntityError, match="nope"):
        complete_basket(shop, ["tea", "nope"])
    with pytest.raises(BundleError):
        complete_basket(shop, [])


class LampScorer:
    """A product↔product scorer (the ``ProductScorer`` protocol) that pairs lamps with bulbs."""

    def __init__(self, index: dict[str, int]) -> None:
        self.scores = torch.zeros(len(index), len(index))
        self.scores[index["lamp"], index["bulb"]] = 5.0
        self.scores[index["lamp"], index["candle"]] = 1.0

    def score_products(self, anchor_items: torch.Tensor, candidate_items: torch.Tensor) -> torch.Tensor:
        return self.scores[anchor_items][:, candidate_items]


def test_fuses_a_product_scorer(shop: GraphConnection) -> None:
    index = {p: i for i, p in enumerate(sorted(PRODUCTS))}
    result = complete_basket(shop, ["lamp"], k=3, model=ModelLink(LampScorer(index), index), in_stock_only=False)
    assert "model" in result.suggestions[0].components
    assert any(e.kind == "model" for s in result.suggestions for e in s.evidence)
    assert ids(result)[0] == "bulb"


def test_compose_respects_size_duplicates_and_gives_reasons(shop: GraphConnection) -> None:
    bundle = compose_bundle(shop, "u3", anchor_product="tea", size=3)
    chosen = [i.product_id for i in bundle.items]
    assert chosen[0] == "tea" and len(chosen) == 3 == len(set(chosen))
    assert not {"cup", "cup2"} <= set(chosen)  # near-duplicates (same type, cosine > 0.9)
    assert all(i.reasons for i in bundle.items)
    assert bundle.total_price == pytest.approx(sum(i.price or 0.0 for i in bundle.items))


def test_compose_respects_budget(shop: GraphConnection) -> None:
    bundle = compose_bundle(shop, "u1", anchor_product="tea", size=4, budget=26.0)
    assert bundle.total_price is not None and bundle.total_price <= 26.0
    assert next(i.product_id for i in bundle.items) == "tea" and len(bundle.items) >= 2
    with pytest.raises(BundleError, match="budget"):
        compose_bundle(shop, "u1", anchor_product="lamp", size=2, budget=10.0)
    with pytest.raises(UnknownEntityError):
        compose_bundle(shop, "nobody", size=2)


def test_compose_without_seed_starts_from_the_users_taste(shop: GraphConnection) -> None:
    bundle = compose_bundle(shop, "u2", size=2)
    assert len(bundle.items) == 2
    bought = {p for u, items in ORDERS.values() if u == "u2" for p in items}
    assert not bought & {i.product_id for i in bundle.items}
    assert any("matches your purchases" in r or "you may like" in r for r in bundle.items[0].reasons)


@pytest.fixture()
def cli_env(
    graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> GraphConnection:
    monkeypatch.setenv("KGREC_NEO4J_URI", test_credentials.uri)
    monkeypatch.setenv("KGREC_NEO4J_PASSWORD", test_credentials.password)
    monkeypatch.setenv("KGREC_STATE_DIR", str(tmp_path))  # no checkpoints: graph evidence only
    build_shop(graph)
    return graph


def test_basket_mine_and_compose_commands(cli_env: GraphConnection) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["basket", "complete", "tea", "-k", "3", "--max-price", "10"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "cup" in out.output and "often bought with Tea pot" in out.output
    out = runner.invoke(app, ["bundles", "mine", "--min-orders", "2", "--min-lift", "1.0"])
    assert out.exit_code == 0 and "mined bundles written" in out.output, out.output
    assert cli_env.count("MATCH (b:Bundle {source: 'mined'}) RETURN count(b) AS n") > 0
    out = runner.invoke(
        app, ["bundles", "compose", "u3", "--anchor-product", "tea", "--size", "2"], env={"COLUMNS": "200"}
    )
    assert out.exit_code == 0 and "Tea pot" in out.output, out.output
    out = runner.invoke(app, ["bundles", "recommend", "u1"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "mined:" in out.output, out.output
    out = runner.invoke(app, ["basket", "complete", "nope"])
    assert out.exit_code == 1 and "unknown product" in out.output

"""The path index answers page explanations with exactly the rows of the Cypher page queries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kgrec.kg.bundle_mining import mine_bundles
from kgrec.kg.connection import GraphConnection
from kgrec.kg.copurchase import recompute_bought_with
from kgrec.kg.schema import Label, Rel
from kgrec.queries.runner import run
from kgrec.serving import path_index
from kgrec.serving.page_paths import page_rows
from kgrec.serving.path_index import PathIndex, build_path_index, refresh_path_index
from tests.shop_graphs import build_shop_graph, write_orders

pytestmark = pytest.mark.neo4j


def cypher_rows(conn: GraphConnection, user_id: str, product_ids: list[str], limit: int) -> tuple[Any, Any]:
    params = {"user_id": user_id, "product_ids": product_ids, "limit": limit}
    rows = run(conn, "explain_page", **params, links_per_product=path_index.LINKS_PER_PRODUCT)
    similar = {r["product_id"]: r for r in run(conn, "explain_page_users", **params)}
    return rows, similar


def assert_same_rows(conn: GraphConnection, index: PathIndex, users: list[str], limit: int) -> int:
    """Every user's page over every product: the same rows from memory as from Cypher; rows compared."""
    products = index.product_ids
    compared = 0
    for user in users:
        expected = cypher_rows(conn, user, products, limit)
        got = page_rows(index, user, products, limit)
        assert got[0] == expected[0], user
        assert got[1] == expected[1], user
        compared += len(expected[0])
    return compared


def test_rows_match_cypher_on_the_hand_built_shop(shop: GraphConnection) -> None:
    index = build_path_index(shop).warm()
    users = ["U1", "U2", "U3", "U4", "U6"]
    for limit in (1, 3):
        assert assert_same_rows(shop, index, users, limit) == len(users) * 6
    rows, similar = page_rows(index, "U1", ["P2", "P4"], 3)
    (copurchase,) = rows[0]["copurchase"]  # U1 bought P1, which is often bought with P2
    assert copurchase["via_id"] == "P1" and copurchase["bought_count"] == 3 and copurchase["lift"] == 12.3
    assert [s["kind"] for s in rows[0]["shared"]] == ["category", "attribute", "brand"]  # 3 of 4: limit
    assert similar["P2"]["similar_users"] == 3 and similar["P2"]["buyers"] == 4


def test_cache_round_trip(shop: GraphConnection, tmp_path: Any) -> None:
    index = build_path_index(shop)
    path = index.save(tmp_path / "paths.json")
    loaded = PathIndex.load(path)
    assert loaded is not None and loaded.fingerprint == index.fingerprint
    assert page_rows(loaded, "U2", loaded.product_ids, 3) == page_rows(index, "U2", index.product_ids, 3)
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    assert PathIndex.load(tmp_path / "bad.json") is None and PathIndex.load(tmp_path / "missing.json") is None


def test_rows_match_cypher_on_a_themed_shop_with_bundles(graph: GraphConnection) -> None:
    shop = build_shop_graph(graph, n_users=20, per_theme=8, orders_per_user=5, seed=3)
    recompute_bought_with(graph, min_orders=1)
    assert mine_bundles(graph, min_orders=2, min_lift=1.0).bundles_written > 0
    graph.write(  # two customers looked at a bundle; one has a profile attribute that products share
        f"MATCH (u:{Label.USER}) WHERE u.id IN ['U000', 'U003'] MATCH (b:{Label.BUNDLE}) WITH u, b ORDER BY b.id LIMIT 2 "
        f"MERGE (u)-[:{Rel.INTERACTED_WITH}]->(b)"
    )
    graph.write(
        f"MERGE (a:{Label.ATTRIBUTE} {{key: 'size=small'}}) SET a.name = 'size', a.value = 'small' WITH a "
        f"MATCH (p:{Label.PRODUCT}) WHERE p.id ENDS WITH '1' OR p.id ENDS WITH '2' MERGE (p)-[:{Rel.HAS_ATTRIBUTE}]->(a) "
        f"WITH DISTINCT a MATCH (u:{Label.USER} {{id: 'U001'}}) MERGE (u)-[:{Rel.HAS_ATTRIBUTE}]->(a)"
    )
    index = build_path_index(graph).warm()
    assert index.bundles and len(index.product_ids) == len(shop.products)
    compared = assert_same_rows(graph, index, shop.users, 3)
    assert compared == len(shop.users) * len(shop.products)
    with pytest.MonkeyPatch.context() as patch:  # each product's 2 strongest links only: both sides agree
        patch.setattr(path_index, "LINKS_PER_PRODUCT", 2)
        capped = build_path_index(graph).warm()
        assert max(np.diff(capped.bought_with_into[0].indptr)) == 2
        assert_same_rows(graph, capped, shop.users[:8], 3)

    # new orders, a new customer and a new product: refreshed incrementally, still the same rows
    newest = max(ts for _, _, ts, _ in shop.orders)
    write_orders(graph, [("U000", "O-new-1", newest + 5, ["P100", "P201"]), ("U950", "O-new-2", newest + 9, ["P000"])])
    graph.write(
        f"MATCH (c:{Label.CATEGORY} {{path: $cat}}) CREATE (:{Label.PRODUCT} {{id: 'PNEW', title: 'NEW'}})"
        f"-[:{Rel.IN_CATEGORY}]->(c)",
        {"cat": shop.theme_of["P000"]},
    )
    fresh = refresh_path_index(index, graph)
    assert fresh is not index and fresh.users["U003"] is index.users["U003"]  # untouched records kept
    assert "U950" in fresh.user_row and "PNEW" in fresh.product_row
    assert_same_rows(graph, fresh.warm(), [*shop.users, "U950"], 3)
    assert refresh_path_index(fresh, graph) is fresh  # nothing changed since

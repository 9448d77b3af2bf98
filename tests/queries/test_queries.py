"""Every named query parses, runs on a small hand-built shop graph and returns the expected rows."""

from __future__ import annotations

import pytest

from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import SchemaError, UnknownEntityError
from kgrec.queries import results
from kgrec.queries.runner import (
    QueryError,
    QueryNotFoundError,
    QueryParameterError,
    bind,
    get_query,
    list_queries,
    parse_cli_params,
    parse_query,
    run,
    run_one,
)
from tests.shop_graphs import BOUGHT_WITH, PURCHASES

pytestmark = pytest.mark.neo4j


# -- files and parameters (no database) --------------------------------------------------------
EXPECTED = {
    "user_history", "product_detail", "bought_with", "explain_copurchase", "explain_shared_category",
    "explain_similar_users", "explain_bundle", "explain_basket", "neighbourhood", "search_products",
    "graph_overview", "popular_products", "product_popularity", "user_summary",
}  # fmt: skip


def test_every_file_has_a_header() -> None:
    queries = {q.name: q for q in list_queries()}
    assert set(queries) >= EXPECTED
    for query in queries.values():
        assert query.purpose and query.returns and query.cypher.strip()


def test_missing_and_extra_parameters_are_named() -> None:
    query = get_query("bought_with")
    with pytest.raises(QueryParameterError, match=r"missing \$product_id"):
        bind(query, {"limit": 3})
    with pytest.raises(QueryParameterError, match=r"unknown \$colour"):
        bind(query, {"product_id": "P1", "colour": "red"})
    with pytest.raises(QueryParameterError, match=r"\$limit must be int"):
        bind(query, {"product_id": "P1", "limit": "3"})
    assert bind(query, {"product_id": "P1"}) == {"product_id": "P1", "limit": 10, "min_lift": 0.0}


def test_constants_come_from_the_schema_not_the_caller() -> None:
    query = get_query("search_products")
    assert bind(query, {"q": "heart"})["fulltext_index"] == "product_text"
    with pytest.raises(QueryParameterError, match="unknown"):
        bind(query, {"q": "heart", "fulltext_index": "other"})


def test_cli_parameters_are_typed() -> None:
    query = get_query("explain_basket")
    assert parse_cli_params(query, ["product_ids=P1, P3", "product_id=P2", "limit=2"]) == {
        "product_ids": ["P1", "P3"], "product_id": "P2", "limit": 2,
    }  # fmt: skip
    with pytest.raises(QueryParameterError, match="must be int"):
        parse_cli_params(query, ["limit=two"])
    with pytest.raises(QueryParameterError, match="key=value"):
        parse_cli_params(query, ["nonsense"])


def test_unknown_query_lists_known_names() -> None:
    with pytest.raises(QueryNotFoundError, match="bought_with"):
        get_query("no_such_query")


def test_header_must_match_text_and_schema() -> None:
    good = "// name: q\n// purpose: p\n// parameters: $id: str\n// returns: x\nMATCH (p:Product {id: $id}) RETURN p.id AS x"
    assert parse_query(good, "q.cypher").parameters[0].name == "id"
    with pytest.raises(QueryError, match="undeclared"):
        parse_query(good.replace("$id: str", ""), "q.cypher")
    with pytest.raises(SchemaError, match="Widget"):
        parse_query(good.replace(":Product", ":Widget"), "q.cypher")
    with pytest.raises(SchemaError, match="LIKES"):
        parse_query(good.replace("(p:Product {id: $id})", "(p:Product {id: $id})-[:LIKES]->()"), "q.cypher")
    with pytest.raises(QueryError, match="must match the file name"):
        parse_query(good, "other.cypher")


# -- each query on the shop graph ----------------------------------------------------------------
def test_user_history(shop: GraphConnection) -> None:
    rows = run(shop, "user_history", user_id="U1")
    assert [r["product_id"] for r in rows] == ["P1", "P3"]  # most recent first
    assert rows[0]["count"] == 3 and rows[0]["quantity"] == 6
    assert rows[0]["last"].startswith("2011-01-20")
    assert run(shop, "user_history", user_id="U5") == []


def test_product_detail(shop: GraphConnection) -> None:
    detail = results.product_detail(shop, "P2")
    assert detail.title == "RED HANGING HEART T-LIGHT HOLDER"
    assert detail.categories == ["Home > Candles"] and detail.brands == ["Acme"]
    assert detail.attributes == [{"key": "colour=red", "name": "colour", "value": "red", "derived": True}]
    assert detail.bundles == ["B1"] and detail.buyers == 4
    assert [n.product_id for n in detail.bought_with] == ["P1"]
    with pytest.raises(UnknownEntityError, match="NOPE"):
        results.product_detail(shop, "NOPE")


def test_bought_with(shop: GraphConnection) -> None:
    rows = run(shop, "bought_with", product_id="P1")
    assert [(r["product_id"], r["lift"], r["orders"]) for r in rows] == [("P2", 12.3, 41), ("P3", 1.5, 3)]
    assert rows[0]["confidence"] == 0.6
    assert [r["product_id"] for r in run(shop, "bought_with", product_id="P1", min_lift=2.0)] == ["P2"]


def test_explain_copurchase(shop: GraphConnection) -> None:
    rows = run(shop, "explain_copurchase", user_id="U1", product_id="P2")
    assert [(r["via_id"], r["lift"], r["orders"], r["bought_count"]) for r in rows] == [("P1", 12.3, 41, 3)]
    assert run(shop, "explain_copurchase", user_id="U1", product_id="P6") == []


def test_explain_shared_category(shop: GraphConnection) -> None:
    rows = run(shop, "explain_shared_category", user_id="U1", product_id="P2")
    found = {(r["kind"], r["shared_key"]): r for r in rows}
    assert set(found) == {
        ("category", "Home > Candles"), ("brand", "Acme"), ("attribute", "colour=red"), ("profile", "colour=red"),
    }  # fmt: skip
    assert found["category", "Home > Candles"]["via_ids"] == ["P1"]
    assert found["attribute", "colour=red"]["via_ids"] == ["P3"]
    assert found["profile", "colour=red"]["products"] == 0
    rows = run(shop, "explain_shared_category", user_id="U1", product_id="P4")
    assert {(r["kind"], r["shared_key"]) for r in rows} == {
        ("brand", "Retro"), ("attribute", "colour=red"), ("profile", "colour=red"),
    }  # fmt: skip


def test_explain_similar_users(shop: GraphConnection) -> None:
    row = run_one(shop, "explain_similar_users", user_id="U1", product_id="P2")
    assert row is not None
    # U2 shares P1 and P3 with U1, U3 shares P1, U4 shares P3; all three bought P2.
    assert row["similar_users"] == 3 and row["max_overlap"] == 2 and row["buyers"] == 4
    assert row["top_users"][0] == {"user_id": "U2", "overlap": 2}
    assert {s["product_id"]: s["users"] for s in row["top_shared"]} == {"P1": 2, "P3": 2}
    assert run(shop, "explain_similar_users", user_id="U1", product_id="P6") == []


def test_explain_bundle(shop: GraphConnection) -> None:
    rows = run(shop, "explain_bundle", user_id="U1", product_id="P6")
    assert [(r["bundle_id"], r["owned"], r["via_ids"], r["bundle_size"], r["interacted"]) for r in rows] == [
        ("B1", 1, ["P1"], 3, False)
    ]
    rows = run(shop, "explain_bundle", user_id="U2", product_id="P6")  # U2 owns P1, P2 and interacted with B1
    assert rows[0]["owned"] == 2 and rows[0]["interacted"] is True
    assert run(shop, "explain_bundle", user_id="U5", product_id="P6") == []


def test_explain_basket(shop: GraphConnection) -> None:
    rows = run(shop, "explain_basket", product_ids=["P1", "P3"], product_id="P2")
    assert [(r["kind"], r["via_id"]) for r in rows] == [("copurchase", "P1"), ("bundle", "P1"), ("category", "P1")]
    assert rows[0]["lift"] == 12.3


def test_neighbourhood(shop: GraphConnection) -> None:
    hood = results.neighbourhood(shop, "Product", "P1", limit=50)
    assert hood.center.uid == "Product:P1" and hood.center.caption.startswith("WHITE HANGING")
    uids = {n.uid for n in hood.nodes}
    assert {"Product:P2", "Category:Home > Candles", "Brand:Acme", "Bundle:B1", "User:U1", "Order:O1"} <= uids
    assert len(uids) == len(hood.nodes)  # each node once
    edges = {(e.source, e.type, e.target) for e in hood.edges}
    assert ("User:U1", "PURCHASED", "Product:P1") in edges  # direction kept
    assert ("Product:P1", "IN_CATEGORY", "Category:Home > Candles") in edges
    assert all(e.source in uids and e.target in uids for e in hood.edges)
    assert hood.degree == 12  # 3 buyers, 1 order, category, brand, colour, bundle, 2×2 BOUGHT_WITH


def test_neighbourhood_limit_takes_turns_between_types(shop: GraphConnection) -> None:
    hood = results.neighbourhood(shop, "Product", "P1", limit=4)
    assert len(hood.nodes) == 5  # the centre + 4
    types = {e.type for e in hood.edges}
    assert len(types) == 4 and "BOUGHT_WITH" in types and "IN_CATEGORY" in types


def test_neighbourhood_of_other_labels_and_unknown(shop: GraphConnection) -> None:
    hood = results.neighbourhood(shop, "Category", "Home > Candles")
    assert {n.uid for n in hood.nodes} == {"Category:Home > Candles", "Category:Home", "Product:P1", "Product:P2"}
    with pytest.raises(UnknownEntityError):
        results.neighbourhood(shop, "User", "NOPE")
    with pytest.raises(QueryParameterError, match="not a node label"):
        results.neighbourhood(shop, "Widget", "P1")


def test_search_products(shop: GraphConnection) -> None:
    hits = results.search_products(shop, "hanging heart")
    assert {h.product_id for h in hits} == {"P1", "P2"}
    assert {h.product_id for h in results.search_products(shop, "retro")} == {"P3", "P4"}
    assert results.search_products(shop, "zebra") == []
    assert {h.product_id for h in results.search_products(shop, "bunt")} == {"P5"}  # last word is a prefix
    assert results.search_products(shop, 'bag "AND (') != []  # Lucene syntax in input is harmless
    with pytest.raises(QueryParameterError, match="no words"):
        results.search_products(shop, "  ?! ")


def test_graph_overview(shop: GraphConnection) -> None:
    overview = results.graph_overview(shop)
    assert overview["nodes"]["Product"] == 6 and overview["nodes"]["User"] == 6
    assert overview["relationships"]["PURCHASED"] == len(PURCHASES)
    assert overview["relationships"]["BOUGHT_WITH"] == 2 * len(BOUGHT_WITH)


def test_popularity_queries(shop: GraphConnection) -> None:
    top = results.popular_products(shop, limit=3)
    assert top[0].product_id == "P2" and top[0].score == 4.0
    assert "P1" not in [h.product_id for h in results.popular_products(shop, limit=10, exclude_user_id="U1")]
    info = results.product_popularity(shop, "P2")
    assert (info.buyers, info.rank, info.products) == (4, 1, 6)
    assert results.product_popularity(shop, "P6").buyers == 0


def test_user_summary(shop: GraphConnection) -> None:
    summary = results.user_summary(shop, "U1")
    assert (summary.purchased, summary.orders, summary.attributes) == (2, 1, ["colour=red"])
    with pytest.raises(UnknownEntityError, match="NOPE"):
        results.user_summary(shop, "NOPE")

"""Every named query compiles on the real server, and the overview counts the whole schema."""

from __future__ import annotations

import pytest

from kgrec.kg.connection import GraphConnection
from kgrec.kg.schema import Label, Rel
from kgrec.queries.runner import NamedQuery, bind, get_query, list_queries, run_one

NAMES = [q.name for q in list_queries()]


@pytest.mark.parametrize("name", NAMES)
def test_every_named_query_compiles_on_the_server(session_graph: GraphConnection, name: str) -> None:
    """EXPLAIN plans without running: a syntax error in a .cypher file fails here."""
    query = get_query(name)
    assert session_graph.execute("EXPLAIN " + query.cypher, bind(query, _example(query))) == []


def _example(query: NamedQuery) -> dict[str, object]:
    values = {"str": "x", "int": 1, "float": 1.0, "bool": True, "list[str]": ["x"]}
    return {p.name: values[p.type] for p in query.parameters if p.required}


def test_the_bundle_questions_are_named_queries() -> None:
    """gnn.bundles and gnn.bundle_recs ask these; they must stay in queries/ (and so in the checks)."""
    assert {
        "products_exist", "basket_bought_with", "basket_text_neighbours", "vector_index_state", "product_facts",
        "products_in_category", "user_top_products", "bundle_catalogue", "user_bundles", "user_bundle_edges",
        "bundle_item_edges", "user_item_edges",
    } <= set(NAMES)  # fmt: skip


def test_graph_overview_counts_every_label_and_type(graph: GraphConnection) -> None:
    graph.write("CREATE (:User {id: 'u'})-[:PURCHASED]->(:Product {id: 'p'})")
    row = run_one(graph, "graph_overview")
    assert row is not None
    assert set(row["nodes"]) == {label.value for label in Label}
    assert set(row["relationships"]) == {rel.value for rel in Rel}
    assert (row["nodes"]["User"], row["nodes"]["Order"], row["relationships"]["PURCHASED"]) == (1, 0, 1)

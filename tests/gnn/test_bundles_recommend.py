"""Recommending Bundle nodes to a user from the real graph, with and without the bundle GNN."""

from __future__ import annotations

import pytest

from kgrec.gnn.bundle_recs import fit_bundle_model, recommend_bundles
from kgrec.gnn.models.bundle_gnn import BundleModelConfig
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError

pytestmark = pytest.mark.neo4j


@pytest.fixture()
def bundles_graph(graph: GraphConnection) -> GraphConnection:
    graph.write("UNWIND range(0, 5) AS i CREATE (:Product {id: 'p' + i, title: 'P' + i})")
    graph.write(
        "UNWIND $rows AS r MERGE (b:Bundle {id: r.b}) SET b.source = r.s, b.title = r.b "
        "WITH b, r UNWIND r.items AS pid MATCH (p:Product {id: pid}) CREATE (b)-[:INCLUDES]->(p)",
        {
            "rows": [
                {"b": "b0", "s": "shop", "items": ["p0", "p1"]},
                {"b": "b1", "s": "shop", "items": ["p1", "p2"]},
                {"b": "b2", "s": "shop", "items": ["p3", "p4"]},
                {"b": "b3", "s": "shop", "items": ["p4", "p5"]},
                {"b": "mined:p0|p2", "s": "mined", "items": ["p0", "p2"]},
            ]
        },
    )
    rows = [{"u": f"u{u}", "b": b, "items": ["p0", "p1", "p2"]} for u in range(4) for b in ("b0", "b1")] + [
        {"u": f"u{u}", "b": b, "items": ["p3", "p4", "p5"]} for u in range(4, 8) for b in ("b2", "b3")
    ]
    graph.write(
        "UNWIND $rows AS r MERGE (u:User {id: r.u}) WITH u, r MATCH (b:Bundle {id: r.b}) "
        "MERGE (u)-[:INTERACTED_WITH]->(b) WITH u, r UNWIND r.items AS pid "
        "MATCH (p:Product {id: pid}) MERGE (u)-[:PURCHASED]->(p)",
        {"rows": rows},
    )
    graph.write("MATCH (u:User {id: 'u0'}), (b:Bundle {id: 'b1'}) MATCH (u)-[r:INTERACTED_WITH]->(b) DELETE r")
    return graph


def test_gnn_recommends_unseen_and_new_bundles(bundles_graph: GraphConnection) -> None:
    link = fit_bundle_model(bundles_graph, epochs=40, config=BundleModelConfig(dim=16, edge_drop=0.0), lr=0.05)
    assert "mined:p0|p2" not in link.bundles  # no interactions: scored from its items
    recs = recommend_bundles(bundles_graph, "u0", k=5, model=link)
    got = [r.bundle_id for r in recs]
    assert "b0" not in got  # already interacted with
    assert set(got) == {"b1", "b2", "b3", "mined:p0|p2"}
    assert set(got[:2]) == {"b1", "mined:p0|p2"}  # the tea-side bundles first
    assert all(r.reasons for r in recs) and "bundle GNN" in recs[0].reasons[0]


def test_fallback_without_model_and_unknown_user(bundles_graph: GraphConnection) -> None:
    recs = recommend_bundles(bundles_graph, "u5", k=2)
    # u5 shares no product with the rest: popularity decides (b0: 4 users, b1: 3, mined: 0)
    assert [r.bundle_id for r in recs] == ["b0", "b1"]
    assert "item overlap" in recs[0].reasons[0] and "chosen by 4" in recs[0].reasons[-1]
    with pytest.raises(UnknownEntityError):
        recommend_bundles(bundles_graph, "nobody")

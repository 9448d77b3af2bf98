"""Bundles for a session (products, no user) and composing one around it, on the real test graph."""

from __future__ import annotations

import pytest

from kgrec.gnn.bundle_recs import fit_bundle_model, recommend_bundles_for_session
from kgrec.gnn.bundles import BundleError
from kgrec.gnn.models.bundle_gnn import BundleModelConfig
from kgrec.gnn.session_bundles import SessionWeights
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError
from tests.shop_graphs import build_bundle_families

pytestmark = pytest.mark.neo4j


@pytest.fixture()
def tea_and_bags(graph: GraphConnection) -> GraphConnection:
    """Two bundle families and a mined bundle (:func:`tests.shop_graphs.build_bundle_families`)."""
    build_bundle_families(graph)
    return graph


def test_without_a_model_overlap_and_popularity_rank(tea_and_bags: GraphConnection) -> None:
    recs, how = recommend_bundles_for_session(tea_and_bags, ["p4", "p5"], k=3)
    assert how == "item overlap + popularity"
    assert [r.bundle_id for r in recs][:2] == ["b3", "b2"]  # b3 holds both session products, b2 one
    assert "holds 2 of your session's products: p4, p5" in recs[0].reasons
    tea_and_bags.write("CREATE (:Product {id: 'lonely'})")
    unrelated, _ = recommend_bundles_for_session(tea_and_bags, ["lonely"], k=5)
    # no overlap anywhere: popularity decides (b0, b2, b3: 4 users each, by id; b1: 3; the mined one: 0)
    assert [r.bundle_id for r in unrelated] == ["b0", "b2", "b3", "b1", "mined:p0|p2"]
    with pytest.raises(UnknownEntityError):
        recommend_bundles_for_session(tea_and_bags, ["nope"])
    with pytest.raises(BundleError):
        recommend_bundles_for_session(tea_and_bags, [])


def test_with_the_bundle_gnn_and_ease_the_session_side_comes_first(tea_and_bags: GraphConnection) -> None:
    link = fit_bundle_model(tea_and_bags, epochs=40, config=BundleModelConfig(dim=16, edge_drop=0.0), lr=0.05)
    assert link.ease is not None
    weights = SessionWeights(gnn=1.0, ease=0.5, overlap=0.5, popularity=0.0)
    recs, how = recommend_bundles_for_session(tea_and_bags, ["p0"], k=5, model=link, weights=weights)
    assert how == "bundle GNN + bundle EASE + item overlap + popularity"
    got = [r.bundle_id for r in recs]
    assert set(got[:3]) == {"b0", "b1", "mined:p0|p2"} and set(got[3:]) == {"b2", "b3"}


def test_no_bundles_in_the_graph(graph: GraphConnection) -> None:
    graph.write("CREATE (:Product {id: 'x'})")
    assert recommend_bundles_for_session(graph, ["x"]) == ([], "none")

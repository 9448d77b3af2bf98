"""Recommending Bundle nodes to a user from the real graph, with and without the bundle GNN."""

from __future__ import annotations

import pytest

from kgrec.gnn.bundle_recs import fit_bundle_model, recommend_bundles
from kgrec.gnn.models.bundle_gnn import BundleModelConfig
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError
from tests.shop_graphs import build_bundle_families

pytestmark = pytest.mark.neo4j


@pytest.fixture()
def bundles_graph(graph: GraphConnection) -> GraphConnection:
    build_bundle_families(graph)
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

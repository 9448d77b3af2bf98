"""Leak guard against the real graph: ``kgrec bundles mine`` runs on ALL orders, training never sees its bundles."""

from __future__ import annotations

from kgrec.gnn.data import DataConfig, prepare_data
from kgrec.kg.bundle_mining import MINED_PREFIX, mine_bundles
from kgrec.kg.connection import GraphConnection
from kgrec.kg.export import export_graph
from kgrec.kg.schema import Label
from tests.shop_graphs import build_shop_graph, write_orders

LATE = 1_700_000_000  # after every order of build_shop_graph: these orders fall in the test period


def test_bundles_mined_from_test_orders_stay_out_of_training(graph: GraphConnection) -> None:
    shop = build_shop_graph(graph, n_users=24, orders_per_user=5)
    # the same pair bought together only in the last (test) orders of four customers
    write_orders(graph, [(u, f"late-{u}", LATE + i, ["P000", "P300"]) for i, u in enumerate(shop.users[:4])])
    mined = mine_bundles(graph, min_orders=3, min_lift=1.0)
    assert mined.bundles_written > 0
    ids = [r["id"] for r in graph.read(f"MATCH (b:{Label.BUNDLE}) RETURN b.id AS id")]
    assert f"{MINED_PREFIX}P000|P300" in ids  # mining saw the test orders

    snapshot = export_graph(graph)
    prepared = prepare_data(snapshot, DataConfig(split="temporal", seed=0, min_eval_users=1))
    assert prepared.split_kind == "temporal"
    data = prepared.data
    bundle_edges = [et for et in data.edge_types if "bundle" in (et[0], et[2])]
    assert all(data[et].edge_index.size(1) == 0 for et in bundle_edges)

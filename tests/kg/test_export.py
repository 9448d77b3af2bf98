"""Export of a small real graph into a GraphSnapshot: ids, edges, orders, vectors."""

from __future__ import annotations

import numpy as np

from kgrec.kg.connection import GraphConnection
from kgrec.kg.export import export_graph
from kgrec.kg.schema import Label, Rel
from tests.shop_graphs import build_shop_graph, set_random_vectors


def test_export_round_trip(graph: GraphConnection) -> None:
    shop = build_shop_graph(graph, n_users=8, per_theme=5, orders_per_user=3)
    set_random_vectors(graph, shop.products[:-2], dim=8)
    graph.write(f"MERGE (:{Label.PRODUCT} {{id: 'lonely'}})")
    graph.write(
        f"MATCH (u:{Label.USER} {{id: 'U000'}}), (p:{Label.PRODUCT} {{id: 'P000'}}) "
        f"MERGE (u)-[:{Rel.RATED} {{rating: 5.0, ts: 1}}]->(p)"
    )
    snap = export_graph(graph, read_batch_size=3)  # several batches per relation

    assert snap.ids["user"] == sorted(shop.users)
    assert snap.ids["product"] == sorted([*shop.products, "lonely"])
    assert snap.ids["category"] == sorted(set(shop.theme_of.values()))
    assert snap.ids["brand"] == ["brand0", "brand1"] and snap.ids["bundle"] == []

    # every product is in its category, edges point at the right ids
    cat = snap.edge(("product", "IN_CATEGORY", "category"))
    got = {(snap.ids["product"][p], snap.ids["category"][c]) for p, c in cat.T}
    assert got == set(shop.theme_of.items())

    # order lines: one row per (order, product), times as epoch seconds, sorted by time
    expected = {(u, o, p, ts) for u, o, ts, items in shop.orders for p in items}
    orders = snap.orders
    assert orders is not None and len(orders) == len(expected)
    rows = {
        (snap.ids["user"][u], orders.order_ids[o], snap.ids["product"][p], int(t))
        for u, o, p, t in zip(orders.user, orders.order, orders.product, orders.timestamp, strict=False)
    }
    assert rows == expected
    assert np.all(np.diff(orders.timestamp) >= 0)

    purchased = snap.edge(("user", "PURCHASED", "product"))
    assert purchased.shape[1] == len({(u, p) for u, _, _, items in shop.orders for p in items})
    assert snap.edge_values[("user", "RATED", "product")].tolist() == [5.0]

    # vectors: present for all but the last two products and 'lonely'
    assert snap.product_embeddings.shape == (len(shop.products) + 1, 8)
    missing = {snap.ids["product"][i] for i in np.flatnonzero(~snap.embedding_mask)}
    assert missing == {*shop.products[-2:], "lonely"}
    assert np.all(snap.product_embeddings[~snap.embedding_mask] == 0)
    assert snap.product_titles[snap.index["product"]["P000"]] == "CERAMIC COFFEE MUG 0"

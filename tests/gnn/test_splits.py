"""Splits and the training graph: temporal order, no leakage, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgrec.gnn.data import BUYS, CO_PURCHASED, DataConfig, PreparedData, copurchase_pairs, prepare_data
from kgrec.gnn.splits import official_split, random_split, temporal_split
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import ModelError
from kgrec.kg.export import GraphSnapshot, OrderRows, export_graph
from tests.shop_graphs import build_shop_graph


def _orders(rows: list[tuple[int, int, int, int]]) -> OrderRows:
    u, o, p, t = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=False))
    return OrderRows(u, o, p, t, [f"o{i}" for i in range(int(o.max()) + 1)])


def _pairs(inter) -> set[tuple[int, int]]:
    return set(map(tuple, inter.edge_index.t().tolist()))


def test_temporal_split_targets_are_new_pairs_of_later_orders() -> None:
    # user, order, product, time; 10 orders, one per time step
    rows = [(0, i, i % 3, 100 + i) for i in range(8)] + [(1, 8, 5, 108), (2, 9, 4, 109)]
    rows += [(0, 8, 0, 108), (0, 9, 6, 109), (0, 8, 7, 108)]
    ts = temporal_split(_orders(rows), num_users=3, num_items=8, valid_frac=0.1, test_frac=0.1)
    assert _pairs(ts.split.train) == {(0, 0), (0, 1), (0, 2)}
    assert _pairs(ts.split.valid) == {(0, 7)}  # (0,0) is a repeat; user 1 is cold and dropped
    assert _pairs(ts.split.test) == {(0, 6)}
    assert ts.stats["valid_repeat_pairs"] == 1 and ts.stats["valid_cold_user_pairs"] == 1
    assert ts.stats["test_cold_user_pairs"] == 1 and ts.stats["test_cold_item_pairs"] == 2
    assert ts.valid_start == 108 and ts.test_start == 109
    assert ts.train_lines.sum() == 8
    kept = temporal_split(_orders(rows), 3, 8, 0.1, 0.1, drop_cold_users=False)
    assert (1, 5) in _pairs(kept.split.valid)
    with pytest.raises(ModelError):
        temporal_split(_orders(rows[:2]), 3, 8)


def test_official_and_random_splits() -> None:
    edges = np.array([[0, 0, 1, 1, 2], [0, 1, 1, 2, 0]])
    markers = np.array(["train", "test", "train", "tune", None], dtype=object)
    snap = GraphSnapshot(
        {"user": ["a", "b", "c"], "product": ["x", "y", "z"]},
        {("user", "PURCHASED", "product"): edges},
        edge_split={("user", "PURCHASED", "product"): markers},
    )
    split = official_split(snap, ("user", "PURCHASED", "product"))
    assert _pairs(split.train) == {(0, 0), (1, 1), (2, 0)}
    assert _pairs(split.valid) == {(1, 2)} and _pairs(split.test) == {(0, 1)}
    edges = np.stack([np.repeat(np.arange(20), 5), np.tile(np.arange(5), 20)])
    a, b = random_split(edges, 20, 5, seed=1), random_split(edges, 20, 5, seed=1)
    assert all(
        torch.equal(x.edge_index, y.edge_index) for x, y in zip(a.__dict__.values(), b.__dict__.values(), strict=False)
    )
    assert not _pairs(a.train) & (_pairs(a.valid) | _pairs(a.test))
    assert set(a.train.edge_index[0].tolist()) == set(range(20))


def test_copurchase_counts_only_selected_orders_and_keeps_top_k() -> None:
    orders = _orders([(0, 0, 1, 1), (0, 0, 2, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 3, 2), (1, 2, 3, 3), (1, 2, 4, 3)])
    lines = np.array([True] * 5 + [False] * 2)
    pairs = set(map(tuple, copurchase_pairs(orders, lines, 5).T.tolist()))
    assert pairs == {(1, 2), (2, 1), (1, 3), (3, 1), (2, 3), (3, 2)}  # (3, 4) is a later order
    top1 = set(map(tuple, copurchase_pairs(orders, lines, 5, top_k=1).T.tolist()))
    assert (1, 2) in top1 and (2, 1) in top1  # 1-2 were bought together twice


def test_training_graph_has_no_leakage_and_is_deterministic(graph: GraphConnection) -> None:
    shop = build_shop_graph(graph, n_users=16, per_theme=6, orders_per_user=5)
    snap = export_graph(graph)
    prepared = prepare_data(snap, DataConfig(split="temporal", valid_frac=0.15, test_frac=0.15, min_eval_users=1))
    split, data = prepared.split, prepared.data
    assert prepared.split_kind == "temporal"
    assert split.valid.num_edges > 0 and split.test.num_edges > 0
    mp = _pairs_t(data[BUYS].edge_index)
    assert mp == _pairs(split.train)
    assert not mp & (_pairs(split.valid) | _pairs(split.test))
    assert torch.equal(
        data["product", "rev_buys", "user"].edge_index.flip(0).sort(1).values, data[BUYS].edge_index.sort(1).values
    )

    # co-purchase edges come from orders before the validation period only
    index = snap.index
    valid_start = _valid_start(snap, prepared)
    train_pairs = set()
    for _, _, t, items in shop.orders:
        if t < valid_start:
            ids = [index["product"][p] for p in items]
            train_pairs |= {(a, b) for a in ids for b in ids if a != b}
    assert _pairs_t(data[CO_PURCHASED].edge_index) <= train_pairs
    assert _pairs_t(data[CO_PURCHASED].edge_index)

    again = prepare_data(export_graph(graph), prepared.config)
    for a, b in zip(
        (split.train, split.valid, split.test), (again.split.train, again.split.valid, again.split.test), strict=False
    ):
        assert torch.equal(a.edge_index, b.edge_index)
    assert torch.equal(prepared.copurchase, again.copurchase)


def _pairs_t(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def _valid_start(snap: GraphSnapshot, prepared: PreparedData) -> int:
    assert snap.orders is not None
    ts = temporal_split(snap.orders, snap.num("user"), snap.num("product"), 0.15, 0.15)
    assert torch.equal(ts.split.train.edge_index, prepared.split.train.edge_index)
    return ts.valid_start

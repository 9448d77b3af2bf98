"""refit_data: train+valid become the training data, test orders stay unseen, the test split is unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgrec.gnn.contract import Interactions
from kgrec.gnn.data import DataConfig, prepare_data, refit_data
from kgrec.kg.export import GraphSnapshot, OrderRows

# (user, order, product, time): orders 0-5 train, 6-7 valid, 8-9 test under a 20%/20% temporal split
ROWS = [
    (0, 0, 0, 1), (0, 0, 1, 1), (1, 1, 1, 2), (1, 1, 2, 2), (2, 2, 0, 3), (2, 2, 2, 3),
    (0, 3, 3, 4), (1, 4, 0, 5), (2, 5, 1, 6),
    (0, 6, 4, 7), (0, 6, 5, 7), (1, 7, 3, 8),
    (2, 8, 6, 9), (2, 8, 7, 9), (0, 9, 2, 10), (0, 9, 6, 10),
]  # fmt: skip
TEST_LINES = [r[1] >= 8 for r in ROWS]


def snapshot() -> GraphSnapshot:
    u, o, p, t = (np.array(c, dtype=np.int64) for c in zip(*ROWS, strict=True))
    orders = OrderRows(u, o, p, t, [f"o{i}" for i in range(10)])
    ids = {"user": [f"u{i}" for i in range(3)], "product": [f"p{i}" for i in range(8)]}
    return GraphSnapshot(
        ids, {}, orders=orders, product_embeddings=np.zeros((8, 4), np.float32),
        embedding_mask=np.zeros(8, bool), product_titles=[None] * 8,
    )  # fmt: skip


def pairs(part: Interactions) -> set[tuple[int, int]]:
    return {(int(u), int(i)) for u, i in part.edge_index.t().tolist()}


def copurchased(edges: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in edges.t().tolist()}


@pytest.mark.parametrize("kind", ["temporal", "leave-last-basket"])
def test_refit_trains_on_train_and_valid_and_keeps_test_unseen(kind: str) -> None:
    prepared = prepare_data(
        snapshot(),
        DataConfig(split=kind, valid_frac=0.2, test_frac=0.2, min_eval_users=1),  # type: ignore[arg-type]
    )
    refit = refit_data(prepared)
    split = prepared.split
    assert pairs(refit.split.train) == pairs(split.train) | pairs(split.valid)
    assert refit.split.valid.num_edges == 0 and refit.split.test is split.test
    assert not pairs(refit.split.train) & pairs(split.test)
    assert refit.train_lines is not None and prepared.train_lines is not None
    assert (refit.train_lines >= prepared.train_lines).all()  # every training line stays
    if kind == "temporal":
        assert pairs(split.valid) == {(0, 4), (0, 5), (1, 3)}
        assert refit.train_lines.tolist() == [not t for t in TEST_LINES]
        cp = copurchased(refit.copurchase)
        assert (4, 5) in cp and (5, 4) in cp  # a validation order now counts as co-purchase
        assert (4, 5) not in copurchased(prepared.copurchase)
        assert not {(6, 7), (2, 6), (7, 6), (6, 2)} & cp  # test orders never do
    else:  # each customer's last order is test: u0's order 9, u1's order 7, u2's order 8
        test_orders = {9, 7, 8}
        assert refit.train_lines.tolist() == [r[1] not in test_orders for r in ROWS]
    buys = refit.data["user", "buys", "product"].edge_index
    assert pairs(Interactions(3, 8, buys)) == pairs(refit.split.train)
    assert refit.stats["valid_pairs"] == 0 and refit.stats["train_pairs"] == refit.split.train.num_edges
    assert refit.split_reason.startswith("refit on train+valid")


def test_mined_bundles_never_reach_the_training_graph() -> None:
    """Leak guard: a mined bundle (from all orders, test included) adds no edge; a given bundle does."""
    snap = snapshot()
    snap.ids["bundle"] = ["given", "mined:p6|p7"]  # p6+p7 are only ever bought together in a TEST order
    snap.edges[("bundle", "INCLUDES", "product")] = np.array([[0, 0, 1, 1], [0, 1, 6, 7]])
    prepared = prepare_data(snap, DataConfig(split="temporal", valid_frac=0.2, test_frac=0.2, min_eval_users=1))
    includes = prepared.data[("bundle", "includes", "product")].edge_index
    assert copurchased(includes) == {(0, 0), (0, 1)}
    assert copurchased(prepared.data[("product", "rev_includes", "bundle")].edge_index) == {(0, 0), (1, 0)}

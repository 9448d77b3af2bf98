"""The evaluator: masking of train (valid) positives, batching, reports and comparison table."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.evaluate import csr_gather, evaluate, evaluate_models


class Fixed(RecModel):
    """Every user ranks items in id order: item 0 first."""

    trainable = False

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.n = num_items

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return -items.float()

    def score_all(self, users: Tensor) -> Tensor:
        return -torch.arange(self.n).float().expand(users.numel(), -1).clone()


def inter(pairs: list[tuple[int, int]], users: int = 3, items: int = 6) -> Interactions:
    return Interactions(users, items, torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1))


SPLIT = LinkSplit(
    train=inter([(0, 0), (1, 0), (1, 1), (2, 3)]),
    valid=inter([(0, 1), (1, 2)]),
    test=inter([(0, 2), (1, 4), (2, 0)]),
)


def test_valid_masks_train() -> None:
    r = evaluate(Fixed(6), SPLIT, "valid", ks=(1, 2))
    # user0: item0 masked -> item1 at rank 1; user1: items 0,1 masked -> item2 at rank 1
    assert r.num_users == 2 and r.split == "valid"
    assert r["recall@1"] == 1.0 and r["mrr"] == 1.0


def test_test_masks_train_and_valid() -> None:
    r = evaluate(Fixed(6), SPLIT, "test", ks=(1, 2), batch_size=2)
    # user0: 0,1 masked -> item2 rank1; user1: 0,1,2 masked -> item4 rank2 (3 first);
    # user2: item3 masked, item0 rank1
    assert r.num_users == 3
    assert r["recall@1"] == pytest.approx(2 / 3)
    assert r["mrr"] == pytest.approx((1 + 0.5 + 1) / 3)


def test_without_masking_ranks_differ() -> None:
    from kgrec.gnn.evaluate import evaluate_ranking

    r = evaluate_ranking(Fixed(6), SPLIT.test, [], ks=(1,))
    assert r["mrr"] == pytest.approx((1 / 3 + 1 / 5 + 1) / 3)


def test_csr_gather() -> None:
    rowptr, col = torch.tensor([0, 2, 2, 5]), torch.tensor([7, 8, 1, 2, 3])
    rows, cols = csr_gather(rowptr, col, torch.tensor([2, 0, 1]))
    assert rows.tolist() == [0, 0, 0, 1, 1] and cols.tolist() == [1, 2, 3, 7, 8]


def test_comparison_table() -> None:
    table = evaluate_models({"a": Fixed(6), "b": Fixed(6)}, SPLIT, "test", ks=(1, 2))
    assert set(table.reports) == {"a", "b"}
    md = table.to_markdown(("recall@1",))
    assert "| a | 0.6667 |" in md
    assert ("a", "eval_s", table.reports["a"].eval_s) in table.rows(["recall@1"])

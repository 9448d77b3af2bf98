"""Every metric against hand-computed values (ranking = items sorted by descending score)."""

from __future__ import annotations

import math

import pytest
import torch

from kgrec.gnn.metrics import MetricsError, RankingAccumulator, full_reciprocal_rank, metric_names

L3, L6 = math.log2(3), math.log2(6)
SCORES = torch.tensor(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],  # user A: ranking 0,1,2,3,4,5
        [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    ]
)  # user B: ranking 5,4,3,2,1,0


def run(rows: list[int], items: list[int], ks=(1, 2, 5), scores=SCORES) -> dict[str, float]:
    acc = RankingAccumulator(6, ks)
    acc.update(scores, torch.tensor(rows), torch.tensor(items))
    return acc.compute()


def test_single_user_two_relevant() -> None:
    # user A, relevant {1, 4}: hits at ranks 2 and 5
    m = run([0, 0], [1, 4])
    assert m["recall@1"] == 0.0 and m["hit@1"] == 0.0
    assert m["recall@2"] == pytest.approx(0.5)
    assert m["precision@2"] == pytest.approx(0.5)
    assert m["hit@2"] == 1.0
    assert m["ndcg@2"] == pytest.approx((1 / L3) / (1 + 1 / L3))
    assert m["recall@5"] == pytest.approx(1.0)
    assert m["precision@5"] == pytest.approx(2 / 5)
    assert m["ndcg@5"] == pytest.approx((1 / L3 + 1 / L6) / (1 + 1 / L3))
    assert m["mrr"] == pytest.approx(0.5)
    assert m["mrr@1"] == 0.0 and m["mrr@2"] == pytest.approx(0.5)


def test_idcg_uses_min_of_relevant_and_k() -> None:
    # user A, relevant {0, 2, 3}: at K=2 one hit at rank 1; IDCG over min(3, 2) = 2 positions
    m = run([0, 0, 0], [0, 2, 3])
    assert m["ndcg@2"] == pytest.approx(1 / (1 + 1 / L3))
    assert m["recall@2"] == pytest.approx(1 / 3)  # denominator |R_u|, not min(|R_u|, K)
    assert m["ndcg@1"] == pytest.approx(1.0)


def test_average_over_users_and_full_mrr() -> None:
    # A: relevant {1} (rank 2); B: relevant {0} (rank 6, outside every K)
    m = run([0, 1], [1, 0])
    assert m["recall@2"] == pytest.approx((1 + 0) / 2)
    assert m["hit@5"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx((1 / L3 + 0) / 2)
    assert m["mrr"] == pytest.approx((1 / 2 + 1 / 6) / 2)
    assert m["mrr@5"] == pytest.approx((1 / 2 + 0) / 2)


def test_rows_without_targets_are_ignored_and_coverage() -> None:
    m = run([0], [0], ks=(2,))
    assert m["recall@2"] == 1.0  # user B has no target: not averaged in
    assert m["coverage@2"] == pytest.approx(2 / 6)  # only user A's top-2 {0, 1}
    both = run([0, 1], [0, 5], ks=(2,))
    assert both["coverage@2"] == pytest.approx(4 / 6)  # {0,1} and {5,4}


def test_duplicate_targets_count_once() -> None:
    assert run([0, 0, 0], [1, 1, 4])["recall@2"] == pytest.approx(0.5)


def test_masked_items_never_count_and_ties_favour_model() -> None:
    s = SCORES[:1].clone()
    s[0, 0] = float("-inf")  # item 0 masked: relevant item 1 becomes rank 1
    assert run([0], [1], scores=s)["mrr"] == 1.0
    tie = torch.tensor([[0.5, 0.5, 0.1]])
    rr = full_reciprocal_rank(tie, torch.tensor([0]), torch.tensor([1]))
    assert rr.tolist() == [1.0]


def test_accumulates_over_batches() -> None:
    acc = RankingAccumulator(6, (2,))
    acc.update(SCORES[:1], torch.tensor([0]), torch.tensor([1]))
    acc.update(SCORES[1:], torch.tensor([0]), torch.tensor([0]))
    m = acc.compute()
    assert acc.num_users == 2
    assert m["recall@2"] == pytest.approx(0.5) and m["mrr"] == pytest.approx((0.5 + 1 / 6) / 2)


def test_bad_inputs_raise() -> None:
    with pytest.raises(MetricsError):
        RankingAccumulator(6, (10,))
    with pytest.raises(MetricsError):
        RankingAccumulator(6, (2,)).update(SCORES[:, :5], torch.tensor([0]), torch.tensor([0]))
    assert "recall@20" in metric_names() and "mrr" in metric_names()


def test_fast_path_equals_pyg_metrics() -> None:
    from kgrec.gnn.metrics import pyg_metrics

    g = torch.Generator().manual_seed(3)
    scores = torch.rand(40, 30, generator=g)
    rows = torch.randint(0, 35, (90,), generator=g)  # rows 35..39 have no target
    items = torch.randint(0, 30, (90,), generator=g)
    acc = RankingAccumulator(30, (1, 5, 10))
    acc.update(scores, rows, items)
    ours = acc.compute()
    key = torch.unique(rows * 30 + items)
    r, i = key // 30, key % 30
    has = torch.unique(r)
    remap = torch.full((40,), -1, dtype=torch.long)
    remap[has] = torch.arange(has.numel())
    ref = pyg_metrics((1, 5, 10), 30)
    ref.update(scores.topk(10, dim=1).indices[has], torch.stack([remap[r], i]))
    for name, value in ref.compute().items():
        assert ours[name] == pytest.approx(float(value), abs=1e-6), name

"""The refit protocol helpers: paired bootstrap, cold-product rows, per-user metrics, report targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.refit_eval import bootstrap_rows, cold_items, cold_rows, per_user
from bench.report import TARGETS
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.evaluate import evaluate


class Fixed(RecModel):
    """Scores from a fixed ``[users, items]`` matrix."""

    trainable = False

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.scores = scores

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.scores[users, items]

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return self.scores[users]


def inter(pairs: list[tuple[int, int]]) -> Interactions:
    return Interactions(3, 30, torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1))


# item 29 is never bought in train: the cold product; user 2 has it as a test target
SPLIT = LinkSplit(
    inter([(0, 0), (1, 1), (2, 2)] + [(u, i) for u in range(3) for i in range(3, 28)]),
    inter([]),
    inter([(0, 28), (1, 28), (2, 29), (2, 28)]),
)


def test_per_user_matches_the_evaluator_and_cold_rows_use_cold_products_only() -> None:
    scores = torch.rand(3, 30, generator=torch.Generator().manual_seed(0))
    scores[:, 29] = -1.0  # last among everything: cold target missed in full ranking
    model = Fixed(scores)
    users, recall, ndcg = per_user(model, SPLIT)
    report = evaluate(model, SPLIT, "test", ks=(20,))
    assert users.tolist() == [0, 1, 2]
    assert recall.mean() == pytest.approx(report["recall@20"]) and ndcg.mean() == pytest.approx(report["ndcg@20"])
    assert cold_items(SPLIT).nonzero().flatten().tolist() == [28, 29]  # never bought in train
    rows = {r.metric: r.value for r in cold_rows(model, "m", SPLIT)}
    assert rows["users"] == 3 and rows["cold_only_recall@20"] == 1.0  # 2 cold candidates: both in the top 20


def test_bootstrap_interval_covers_the_mean_difference_and_is_zero_for_equal_models() -> None:
    rng = np.random.default_rng(1)
    users = np.arange(400)
    base = (users, rng.random(400), rng.random(400))
    same = {r.metric: r.value for r in bootstrap_rows("x", base, base, n=500)}
    assert same["delta_recall@20_lo"] == same["delta_recall@20_hi"] == 0.0 and same["ratio_recall@20"] == 1.0
    better = (users, base[1] + 0.1, base[2] - 0.05)
    rows = {r.metric: r.value for r in bootstrap_rows("x", better, base, n=500)}
    assert rows["delta_recall@20_lo"] == pytest.approx(0.1) and rows["delta_ndcg@20_hi"] == pytest.approx(-0.05)
    with pytest.raises(ValueError, match="different users"):
        bootstrap_rows("x", (users[::-1], base[1], base[2]), base)


def test_rank_targets_compare_the_served_gnn_with_the_best_tuned_baseline() -> None:
    targets = TARGETS["rank-online-retail"]
    values = {
        ("gnn", "test", "recall@20"): 0.106,
        ("ease", "test", "recall@20"): 0.1,
        ("rp3beta", "test", "recall@20"): 0.08,
    }
    values |= {("ease_trend", "test", "recall@20"): 0.11}
    assert targets[0].check(values) is True  # 0.106 >= 1.05 x 0.100
    values[("rp3beta", "test", "recall@20")] = 0.101
    assert targets[0].check(values) is False
    assert targets[1].check(values) is None  # NDCG not measured
    assert targets[2].check(values) is False  # the hybrid without the GNN is better


def test_cold_only_ties_rank_like_a_coin_toss_not_in_the_models_favour() -> None:
    """A model that scores every cold product alike must not get a good cold-only ranking from tie order."""
    num_items = 50
    everything_bought = torch.zeros(num_items, dtype=torch.long)  # product 0 only: 49 cold products
    # targets on exactly the cold products that torch.topk returns first for an all-equal row
    favoured = [int(i) for i in torch.zeros(1, num_items)[:, 1:].topk(20).indices[0] + 1]
    users = torch.arange(len(favoured))
    train = Interactions(len(users), num_items, torch.stack([users, everything_bought[: len(users)]]))
    test = Interactions(len(users), num_items, torch.stack([users, torch.tensor(favoured)]))
    split = LinkSplit(train, Interactions(len(users), num_items, torch.zeros(2, 0, dtype=torch.long)), test)
    flat = Fixed(torch.zeros(len(users), num_items))  # no opinion at all on the cold products
    assert int(cold_items(split).sum()) == num_items - 1
    recall = {r.metric: r.value for r in cold_rows(flat, "flat", split)}["cold_only_recall@20"]
    assert recall < 0.8  # topk's own tie order would give 1.0; a random order about 20/49
    ranked = torch.zeros(len(users), num_items)
    ranked[users, torch.tensor(favoured)] = 1.0  # a model that does know: ranks every target first
    assert {r.metric: r.value for r in cold_rows(Fixed(ranked), "knows", split)}["cold_only_recall@20"] == 1.0

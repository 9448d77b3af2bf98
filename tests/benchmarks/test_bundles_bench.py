"""The Youshu protocol helper: training bundles masked, Recall/NDCG over users with targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.bundle_youshu import evaluate


def test_masks_training_bundles_and_scores_standard_metrics() -> None:
    scores = torch.arange(25, 0, -1, dtype=torch.float32).repeat(3, 1)  # bundle 0 best ... 24 worst
    mask = np.array([[0, 2], [0, 5]])  # user 0 trained on bundle 0, user 2 on bundle 5
    target = np.array([[0, 0, 2], [1, 24, 6]])  # user 0: bundles 1 and 24; user 2: bundle 6
    m = evaluate(lambda users: scores[users], 25, mask, target)
    # user 0: bundle 1 at rank 1 (0 masked), 24 at rank 24 > 20 -> recall 1/2, NDCG 1 / (1 + 1/log2 3)
    # user 2: bundle 6 at rank 6 (5 masked) -> recall 1, NDCG 1/log2(7); user 1 has no target
    assert m["recall@20"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["ndcg@20"] == pytest.approx((1 / (1 + 1 / math.log2(3)) + 1 / math.log2(7)) / 2, rel=1e-5)


def tiny_youshu():
    """8 users, 24 bundles, 6 items: users 0-3 take bundles 0/1 (items 0-2), users 4-7 bundles 2/3."""
    from bench.bundle_youshu import Youshu

    ui = [(u, i) for u in range(4) for i in (0, 1, 2)] + [(u, i) for u in range(4, 8) for i in (3, 4, 5)]
    bi = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (2, 4), (3, 4), (3, 5)] + [(b, b % 6) for b in range(4, 24)]
    train = [(u, 0) for u in range(4)] + [(u, 2) for u in range(4, 8)] + [(0, 1), (4, 3)]
    tune = [(1, 1), (5, 3)]
    test = [(2, 1), (6, 3)]

    def arr(pairs):
        return np.array(pairs, dtype=np.int64).T.copy()

    return Youshu(8, 24, 6, arr(ui), arr(bi), arr(train), arr(tune), arr(test))


def test_ease_and_fusion_grids_record_every_configuration_on_tune(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import bundle_youshu as bench
    from kgrec.gnn.contract import Interactions
    from kgrec.gnn.models.baselines import Popularity

    data = tiny_youshu()
    train = Interactions(8, 24, torch.from_numpy(data.train))
    monkeypatch.setattr(bench, "EASE_GRID", [(0.0, 0.0, 1.0), (0.3, 0.3, 1.0)])
    monkeypatch.setattr(bench, "PROFILE_INPUTS", (0.0, 0.3))
    ease, rows = bench.tune_ease(data, train)
    assert {r.split for r in rows} == {"tune"} and len({r.model for r in rows}) == 4
    assert ease.config.l2 == 1.0
    gnn = Popularity()
    gnn.fit(train)
    fused, fusion_rows = bench.tune_fusion(gnn, ease, data, train, [(0.0, 0.0), (0.5, 0.1)])
    assert len({r.model for r in fusion_rows}) == 2 and {r.split for r in fusion_rows} == {"tune"}
    best = max(
        (r for r in fusion_rows if r.metric == "recall@20"), key=lambda r: r.value
    ).model  # the kept weights are the tune winner's
    assert best == bench.label("gnn", {"ease": fused.ease_weight, "pop": fused.pop_weight})


def test_gnn_grid_trains_every_configuration_and_keeps_the_tune_winner() -> None:
    from bench import bundle_youshu as bench
    from kgrec.gnn.train import TrainConfig

    data = tiny_youshu()
    base = {"dim": 8, "layers": 1, "lr": 0.01, "l2": 0.0, "temperature": 0.25, "cl_weight": 0.0}
    base |= {"edge_drop": 0.0, "seed": 0}
    schedule = TrainConfig(epochs=2, batch_size=8, num_negatives=1, k=20, progress=False, device="cpu")
    model, history, rows = bench.tune_gnn(data, base, [{}, {"dim": 16}], schedule)
    tags = {r.model for r in rows}
    assert tags == {"crosscbr[dim=8,layers=1,lr=0.01,l2=0]", "crosscbr[dim=16,layers=1,lr=0.01,l2=0]"}
    recall = {r.model: r.value for r in rows if r.metric == "recall@20"}
    winner = max(recall, key=lambda t: recall[t])  # first on ties, as the loop keeps
    assert model.config.dim == (8 if winner.startswith("crosscbr[dim=8") else 16)
    assert history.best_epoch in (1, 2)

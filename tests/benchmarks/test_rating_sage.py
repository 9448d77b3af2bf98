"""The benchmark rating model: bias baseline, rating-typed message graph, training through the one loop."""

from __future__ import annotations

import math

import pytest
import torch

from bench.models.rating_sage import (
    RatingConfig,
    RatingGNN,
    Ratings,
    fit_biases,
    message_graph,
    rmse,
    train_rating_model,
)
from kgrec.gnn.train import TrainConfig


def test_rating_bias_baseline_and_message_graph() -> None:
    # 2 users x 2 items, all four ratings: with reg=0 ALS converges to the exact additive fit
    r = Ratings(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]), torch.tensor([5.0, 3.0, 4.0, 2.0]))
    mu, bu, bi = fit_biases(r, 2, 2, reg=0.0, iters=50)
    assert mu == pytest.approx(3.5)
    pred = mu + bu[r.users] + bi[r.items]
    assert pred.tolist() == pytest.approx([5.0, 3.0, 4.0, 2.0], abs=1e-4)
    assert rmse(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 5.0])) == pytest.approx(math.sqrt(2.5))
    g = message_graph(r)
    assert g[("user", "r5", "item")].tolist() == [[0], [0]]
    assert g[("item", "rev_r3", "user")].tolist() == [[1], [0]]
    assert g[("user", "r1", "item")].shape == (2, 0)
    model = RatingGNN(2, 2, torch.eye(2), torch.ones(2, 3), mu, RatingConfig(hidden=8))
    out = model.predict(g, r.users, r.items)
    assert out.shape == (4,) and float(out.min()) >= 1.0 and float(out.max()) <= 5.0


def test_rating_model_trains_with_early_stopping_on_rmse() -> None:
    torch.manual_seed(0)
    users, items = torch.arange(6).repeat_interleave(4), torch.arange(4).repeat(6)
    values = torch.where((users < 3) == (items < 2), 5.0, 1.0)  # two tastes
    ratings = Ratings(users, items, values)
    valid_mask = torch.arange(24) % 5 == 0
    train, valid = ratings.subset(~valid_mask), ratings.subset(valid_mask)
    model = RatingGNN(6, 4, torch.eye(6), torch.eye(4), float(train.values.mean()), RatingConfig(hidden=8, dropout=0.0))
    before = rmse(model.predict(message_graph(train), valid.users, valid.items), valid.values)
    config = TrainConfig(epochs=60, lr=0.05, weight_decay=0.0, patience=60, progress=False, device="cpu")
    result = train_rating_model(model, train, valid, config)
    curve = [s.valid["rmse"] for s in result.history]
    assert result.metric == "rmse" and result.best_valid == min(curve) < 0.5 * before
    after = rmse(model.predict(message_graph(train), valid.users, valid.items), valid.values)
    assert after == pytest.approx(result.best_valid, abs=1e-5)  # the best epoch's weights are back

"""The ML-100K rating GNN: rating-typed adjacency, message dropout, training through the one loop."""

from __future__ import annotations

import pytest
import torch

from bench.models.rating_gae import GraphAEConfig, RatingGraphAE, TypedAdjacency, train_graph_ae
from bench.models.rating_sage import Ratings, fit_biases, rmse
from kgrec.gnn.train import TrainConfig
from kgrec.kg.errors import ModelError


def test_typed_adjacency_has_one_column_per_user_and_level_and_dropout_keeps_the_mean() -> None:
    r = Ratings(torch.tensor([0, 1, 1]), torch.tensor([1, 0, 1]), torch.tensor([5.0, 1.0, 3.0]))
    dense = TypedAdjacency(r, 2, 2).matrix().to_dense()
    assert dense.shape == (2, 10)
    assert dense.nonzero().tolist() == [
        [0, 5],
        [1, 4],
        [1, 7],
    ]  # item 0 <- user 1 at 1; item 1 <- user 0 at 5, user 1 at 3
    big = Ratings(torch.arange(4000) % 50, torch.arange(4000) // 50, torch.full((4000,), 4.0))
    dropped = TypedAdjacency(big, 50, 80).matrix(0.5, torch.Generator().manual_seed(0)).values()
    assert 0.4 < float((dropped == 0).float().mean()) < 0.6
    assert float(dropped.mean()) == pytest.approx(1.0, abs=0.05)


def test_graph_ae_learns_two_tastes_and_beats_the_bias_baseline() -> None:
    torch.manual_seed(0)
    users, items = torch.arange(20).repeat_interleave(12), torch.arange(12).repeat(20)
    values = torch.where((users < 10) == (items < 6), 5.0, 1.0)  # two tastes, no additive structure
    ratings = Ratings(users, items, values)
    valid_mask = torch.rand(len(values)) < 0.2
    train, valid = ratings.subset(~valid_mask), ratings.subset(valid_mask)
    model = RatingGraphAE(
        20, 12, torch.eye(20), torch.eye(12), float(train.values.mean()), GraphAEConfig(hidden=16, l2=0.1)
    )
    config = TrainConfig(epochs=200, lr=0.05, weight_decay=0.0, patience=200, progress=False, device="cpu")
    result = train_graph_ae(model, train, valid, config)
    mu, bu, bi = fit_biases(train, 20, 12, reg=1.0)
    bias_rmse = rmse((mu + bu[valid.users] + bi[valid.items]).clamp(1, 5), valid.values)
    assert result.metric == "rmse" and result.best_valid < 0.5 * bias_rmse
    adjacency = TypedAdjacency(train, 20, 12).matrix()
    pred = model.predict(adjacency, valid.users, valid.items)
    assert rmse(pred, valid.values) == pytest.approx(result.best_valid, abs=1e-5)  # the best epoch's weights are back
    assert float(pred.min()) >= 1.0 and float(pred.max()) <= 5.0


def test_graph_ae_rejects_an_unsupported_depth() -> None:
    with pytest.raises(ModelError, match="1 or 2"):
        RatingGraphAE(2, 2, torch.eye(2), torch.eye(2), 3.0, GraphAEConfig(layers=3))

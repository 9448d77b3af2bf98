"""The ML-100K matrix-factorisation baseline learns low-rank structure the global mean cannot."""

from __future__ import annotations

import torch

from bench.models.rating_mf import BiasedMF, MFConfig, train_mf
from bench.models.rating_sage import Ratings, rmse
from kgrec.gnn.train import TrainConfig


def low_rank_ratings(users: int = 40, items: int = 30, seed: int = 0) -> tuple[Ratings, Ratings, Ratings]:
    """A rank-2 matrix on the 1..5 scale, 70/15/15 split of its entries."""
    gen = torch.Generator().manual_seed(seed)
    p, q = torch.randn(users, 2, generator=gen), torch.randn(items, 2, generator=gen)
    full = (3.0 + (p @ q.T)).clamp(1, 5)
    u, i = torch.meshgrid(torch.arange(users), torch.arange(items), indexing="ij")
    u, i, v = u.flatten(), i.flatten(), full.flatten()
    part = torch.rand(len(v), generator=gen)
    ratings = Ratings(u, i, v)
    return ratings.subset(part < 0.7), ratings.subset((part >= 0.7) & (part < 0.85)), ratings.subset(part >= 0.85)


def test_mf_recovers_a_low_rank_matrix_better_than_the_global_mean() -> None:
    train, valid, test = low_rank_ratings()
    torch.manual_seed(0)
    model = BiasedMF(40, 30, float(train.values.mean()), MFConfig(dim=4, reg=0.001))
    config = TrainConfig(epochs=300, lr=0.03, weight_decay=0.0, patience=30, progress=False, device="cpu")
    result = train_mf(model, train, valid, config)
    mean_rmse = rmse(torch.full((len(test),), float(train.values.mean())), test.values)
    assert rmse(model.predict(test.users, test.items), test.values) < 0.5 * mean_rmse
    assert result.best_valid == min(s.valid["rmse"] for s in result.history)
    assert rmse(model.predict(valid.users, valid.items), valid.values) == result.best_valid  # best weights back


def test_mf_predictions_are_clamped_to_the_scale_and_the_penalty_counts_each_rating() -> None:
    model = BiasedMF(3, 3, 3.0, MFConfig(dim=2))
    with torch.no_grad():
        model.user_factors.weight.fill_(3.0)
        model.item_factors.weight.fill_(3.0)
        model.user_bias.weight.fill_(1.0)
        users, items = torch.tensor([0, 1]), torch.tensor([1, 2])
        assert model(users, items).tolist() == [3.0 + 18.0 + 1.0, 3.0 + 18.0 + 1.0]
        assert model.predict(users, items).tolist() == [5.0, 5.0]
        # user 0 rated twice (2 x (18 + 1)), item 1 once (18): 56
        penalty = model.penalty(torch.tensor([2.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]))
        assert float(penalty) == 56.0

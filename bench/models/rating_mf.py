r"""Biased matrix factorisation (SVD-style, Koren et al. 2009): the ML-100K rating baseline.

.. math::
    \hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i

trained full-batch by Adam on the mean squared error plus the per-rating L2 penalty of Funk's
SVD, :math:`\lambda (b_u^2 + b_i^2 + \lVert p_u\rVert^2 + \lVert q_i\rVert^2)` averaged over the
ratings, through the one loop ``gnn.train.run_training`` with early stopping on validation RMSE
(the GNN's protocol). No graph, no side features: the collaborative-filtering baseline the GNN
has to beat. Benchmark-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.models.rating_sage import Ratings, rmse
from kgrec.gnn.train import TrainConfig, TrainResult, Validation, run_training
from kgrec.kg.errors import ModelError


@dataclass(frozen=True)
class MFConfig:
    """Factor dimension and the L2 weight per rating (optimisation knobs live in ``TrainConfig``)."""

    dim: int = 64
    reg: float = 0.05


class BiasedMF(nn.Module):
    """Global mean + user/item biases + a dot product of user and item factors."""

    name = "mf"
    mu: Tensor  # buffer: the training mean

    def __init__(self, num_users: int, num_items: int, global_mean: float, config: MFConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or MFConfig()
        self.user_factors, self.item_factors = nn.Embedding(num_users, c.dim), nn.Embedding(num_items, c.dim)
        nn.init.normal_(self.user_factors.weight, std=0.1)
        nn.init.normal_(self.item_factors.weight, std=0.1)
        self.user_bias, self.item_bias = nn.Embedding(num_users, 1), nn.Embedding(num_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.register_buffer("mu", torch.tensor(float(global_mean)))

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """Unclamped predictions for the pairs ``(users[k], items[k])``.

        The whole users x items matrix is one matmul, then indexed: on CPU that is much faster
        than gathering factor rows per rating (whose backward is a slow scatter-add).
        """
        scores = self.user_factors.weight @ self.item_factors.weight.T
        scores = scores + self.user_bias.weight + self.item_bias.weight.T
        return self.mu + scores.flatten()[users * scores.size(1) + items]

    def penalty(self, user_counts: Tensor, item_counts: Tensor) -> Tensor:
        """Sum over ratings of the squared parameters each rating touches (``*_counts``: ratings per row)."""
        users = self.user_factors.weight.pow(2).sum(-1) + self.user_bias.weight.squeeze(-1).pow(2)
        items = self.item_factors.weight.pow(2).sum(-1) + self.item_bias.weight.squeeze(-1).pow(2)
        return (user_counts * users).sum() + (item_counts * items).sum()

    @torch.no_grad()
    def predict(self, users: Tensor, items: Tensor) -> Tensor:
        """Predictions clamped to the rating scale [1, 5]."""
        return self(users, items).clamp(1.0, 5.0)


def train_mf(model: BiasedMF, train: Ratings, valid: Ratings, config: TrainConfig) -> TrainResult:
    """Full-batch MSE + per-rating L2; early stopping on validation RMSE."""
    if len(train) == 0 or len(valid) == 0:
        raise ModelError("MF training needs non-empty train and valid ratings")
    ones = torch.ones(len(train))
    user_counts = torch.zeros(model.user_bias.num_embeddings).index_add_(0, train.users, ones)
    item_counts = torch.zeros(model.item_bias.num_embeddings).index_add_(0, train.items, ones)

    def batches(_epoch: int) -> Iterator[None]:
        yield None

    def loss(_batch: None) -> Tensor:
        err = torch.mean((model(train.users, train.items) - train.values) ** 2)
        return err + model.config.reg / len(train) * model.penalty(user_counts, item_counts)

    def validate() -> dict[str, float]:
        return {"rmse": rmse(model.predict(valid.users, valid.items), valid.values)}

    return run_training(model, batches, loss, Validation(validate, "rmse", minimize=True), config, model.name)

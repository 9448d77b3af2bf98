r"""Explicit rating prediction (MovieLens-100K): a hetero GraphSAGE encoder, an edge regressor.

In the style of PyG's MovieLens examples, with GC-MC's rating-typed relations. Users and movies
start from a learned id embedding plus a projection of their side features (movies: MiniLM title
embedding + genre flags + year; users: demographics one-hot):

.. math::
    h^{(0)}_v = \mathbf{E}_v + W_{t(v)} x_v

Each layer sums one mean-aggregating SAGEConv per observed rating level :math:`r \in 1..5` and
direction (a ``HeteroConv``), with a residual connection:

.. math::
    h^{(l+1)}_v = h^{(l)}_v + \mathrm{Dropout}\Big(\mathrm{ReLU}\big(\sum_{r}
        \mathrm{SAGE}_r(h^{(l)}, \mathcal{N}_r(v))\big)\Big)

The decoder predicts a residual around the global mean and learned biases, clamped at eval:

.. math::
    \hat r_{ui} = \mathrm{clamp}_{[1,5]}\big(\mu + b_u + b_i
        + \mathrm{MLP}([z_u, z_i, z_u \odot z_i])\big)

Training (:func:`train_rating_model`, through the one loop ``gnn.train.run_training``) minimises
MSE full-batch; in every step a random ``supervise_frac`` of the training ratings is the
supervision and is removed from the message graph, so the model never reads a rating off its own
edge. At evaluation all training ratings are messages. Early stopping on validation RMSE.
Benchmark-only (``bench/rating_ml100k.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv

from kgrec.gnn.train import TrainConfig, TrainResult, Validation, run_training
from kgrec.kg.errors import ModelError

LEVELS = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Ratings:
    """Explicit ratings ``users[k]`` gave ``items[k]`` the value ``values[k]`` (float)."""

    users: Tensor
    items: Tensor
    values: Tensor

    def __len__(self) -> int:
        return int(self.values.numel())

    def subset(self, mask: Tensor) -> Ratings:
        return Ratings(self.users[mask], self.items[mask], self.values[mask])


@dataclass(frozen=True)
class RatingConfig:
    """Architecture of :class:`RatingGNN` (optimisation knobs live in ``gnn.train.TrainConfig``)."""

    hidden: int = 64
    layers: int = 1
    dropout: float = 0.4
    supervise_frac: float = 0.4


class RatingGNN(nn.Module):
    """Rating-typed hetero GraphSAGE encoder + biased MLP edge regressor."""

    name = "rating_sage"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        user_x: Tensor,
        item_x: Tensor,
        global_mean: float,
        config: RatingConfig | None = None,
    ) -> None:
        super().__init__()
        c = self.config = config or RatingConfig()
        self.register_buffer("user_x", user_x.float())
        self.register_buffer("item_x", item_x.float())
        self.user_emb, self.item_emb = nn.Embedding(num_users, c.hidden), nn.Embedding(num_items, c.hidden)
        nn.init.normal_(self.user_emb.weight, std=0.05)
        nn.init.normal_(self.item_emb.weight, std=0.05)
        self.user_lin, self.item_lin = nn.Linear(user_x.size(1), c.hidden), nn.Linear(item_x.size(1), c.hidden)
        self.convs = nn.ModuleList()
        for _ in range(c.layers):
            rels = {}
            for r in LEVELS:
                rels[("user", f"r{r}", "item")] = SAGEConv(c.hidden, c.hidden)
                rels[("item", f"rev_r{r}", "user")] = SAGEConv(c.hidden, c.hidden)
            self.convs.append(HeteroConv(rels, aggr="sum"))
        self.user_bias, self.item_bias = nn.Embedding(num_users, 1), nn.Embedding(num_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.register_buffer("mu", torch.tensor(float(global_mean)))
        self.decoder = nn.Sequential(
            nn.Linear(3 * c.hidden, c.hidden), nn.ReLU(), nn.Dropout(c.dropout), nn.Linear(c.hidden, 1)
        )
        self.drop = nn.Dropout(c.dropout)

    def encode(self, graph: dict[tuple[str, str, str], Tensor]) -> tuple[Tensor, Tensor]:
        h = {
            "user": self.user_emb.weight + self.user_lin(self.user_x),
            "item": self.item_emb.weight + self.item_lin(self.item_x),
        }
        h = {k: self.drop(v) for k, v in h.items()}
        for conv in self.convs:
            out = conv(h, graph)
            h = {k: h[k] + self.drop(torch.relu(out[k])) if k in out else h[k] for k in h}
        return h["user"], h["item"]

    def forward(self, graph: dict[tuple[str, str, str], Tensor], users: Tensor, items: Tensor) -> Tensor:
        """Unclamped predictions for the pairs ``(users[k], items[k])``."""
        zu, zi = self.encode(graph)
        zu, zi = zu[users], zi[items]
        res = self.decoder(torch.cat([zu, zi, zu * zi], dim=-1)).squeeze(-1)
        return self.mu + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1) + res

    @torch.no_grad()
    def predict(self, graph: dict[tuple[str, str, str], Tensor], users: Tensor, items: Tensor) -> Tensor:
        """Clamped predictions in eval mode."""
        was = self.training
        self.eval()
        try:
            return self(graph, users, items).clamp(1.0, 5.0)
        finally:
            self.train(was)


def message_graph(ratings: Ratings) -> dict[tuple[str, str, str], Tensor]:
    """One edge type per rating level and direction (levels are rounded to 1..5)."""
    level = ratings.values.round().long()
    graph = {}
    for r in LEVELS:
        m = level == r
        ei = torch.stack([ratings.users[m], ratings.items[m]])
        graph[("user", f"r{r}", "item")] = ei
        graph[("item", f"rev_r{r}", "user")] = ei.flip(0)
    return graph


def rmse(pred: Tensor, target: Tensor) -> float:
    return float(torch.sqrt(torch.mean((pred.float() - target.float()) ** 2)))


def train_rating_model(model: RatingGNN, train: Ratings, valid: Ratings, config: TrainConfig) -> TrainResult:
    """Full-batch MSE with a fresh message/supervision partition per step; early stopping on valid RMSE."""
    if len(train) == 0 or len(valid) == 0:
        raise ModelError("rating training needs non-empty train and valid ratings")
    gen = torch.Generator().manual_seed(config.seed)
    full_graph = message_graph(train)

    def batches(_epoch: int) -> Iterator[Tensor]:
        yield torch.rand(len(train), generator=gen) < model.config.supervise_frac

    def loss(supervised: Tensor) -> Tensor:
        target = train.subset(supervised)
        pred = model(message_graph(train.subset(~supervised)), target.users, target.items)
        return torch.mean((pred - target.values) ** 2)

    def validate() -> dict[str, float]:
        return {"rmse": rmse(model.predict(full_graph, valid.users, valid.items), valid.values)}

    return run_training(model, batches, loss, Validation(validate, "rmse", minimize=True), config, model.name)


def fit_biases(
    train: Ratings, num_users: int, num_items: int, reg: float = 10.0, iters: int = 15
) -> tuple[float, Tensor, Tensor]:
    r"""Baseline :math:`\hat r_{ui} = \mu + b_u + b_i` by regularised alternating least squares."""
    mu = float(train.values.mean())
    bu, bi = torch.zeros(num_users), torch.zeros(num_items)
    ones = torch.ones(len(train))
    nu = torch.zeros(num_users).index_add_(0, train.users, ones)
    ni = torch.zeros(num_items).index_add_(0, train.items, ones)
    for _ in range(iters):
        bi = torch.zeros(num_items).index_add_(0, train.items, train.values - mu - bu[train.users]) / (ni + reg)
        bu = torch.zeros(num_users).index_add_(0, train.users, train.values - mu - bi[train.items]) / (nu + reg)
    return mu, bu, bi

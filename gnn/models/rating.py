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

Training (:func:`train_rating_model`) minimises MSE full-batch; in every step a random
``supervise_frac`` of the training ratings is the supervision and is removed from the message
graph, so the model never reads a rating off its own edge. At evaluation all training ratings
are messages. Early stopping on validation RMSE.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv

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
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.4
    lr: float = 0.01
    weight_decay: float = 3e-4
    max_epochs: int = 400
    patience: int = 40
    supervise_frac: float = 0.4
    seed: int = 0


@dataclass
class RatingHistory:
    best_epoch: int = 0
    best_valid_rmse: float = float("inf")
    epochs: int = 0
    epoch_s: list[float] = field(default_factory=list)
    valid_rmse: list[float] = field(default_factory=list)


class RatingGNN(nn.Module):
    """Rating-typed hetero GraphSAGE encoder + biased MLP edge regressor."""

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


def train_rating_model(model: RatingGNN, train: Ratings, valid: Ratings, log_every: int = 20) -> RatingHistory:
    """Full-batch MSE with message/supervision partition per step; keeps the best-valid state."""
    c = model.config
    if len(train) == 0 or len(valid) == 0:
        raise ModelError("rating training needs non-empty train and valid ratings")
    gen = torch.Generator().manual_seed(c.seed)
    torch.manual_seed(c.seed)
    opt = torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    full_graph = message_graph(train)
    hist, best, bad = RatingHistory(), None, 0
    for epoch in range(1, c.max_epochs + 1):
        t0 = time.perf_counter()
        model.train()
        sup = torch.rand(len(train), generator=gen) < c.supervise_frac
        target = train.subset(sup)
        pred = model(message_graph(train.subset(~sup)), target.users, target.items)
        loss = torch.mean((pred - target.values) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.epoch_s.append(time.perf_counter() - t0)
        v = rmse(model.predict(full_graph, valid.users, valid.items), valid.values)
        hist.valid_rmse.append(v)
        hist.epochs = epoch
        if v < hist.best_valid_rmse:
            hist.best_valid_rmse, hist.best_epoch, bad = v, epoch, 0
            best = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        if log_every and epoch % log_every == 0:
            print(f"epoch {epoch} train mse {float(loss):.4f} valid rmse {v:.4f}", flush=True)
        if bad >= c.patience:
            break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    return hist


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

r"""Explicit rating prediction (MovieLens-100K): a rating-typed graph autoencoder over items.

One round of GC-MC message passing (Berg et al. 2017) from users to items over the user-item
bipartite graph with one edge type per rating level :math:`r \in 1..5`: a user :math:`u` sends
item :math:`i` the message :math:`W_r[u]` (GC-MC's per-level weights on a one-hot user input),
summed over the item's neighbours and added to a projection of the item's side features

.. math::
    h_i = \sigma\Big(\sum_{r}\sum_{u \in \mathcal{N}_r(i)} W_r[u] + W_x x_i + b\Big),
    \qquad h_i \leftarrow \sigma(W_2 h_i + b_2) \ \text{(optional second layer)}

and decoded per user as in an item-based autoencoder (I-AutoRec, Sedhain et al. 2015; the local
part of GLocal-K, Han et al. 2021): the item's representation reconstructs every user's rating,

.. math::
    \hat r_{ui} = \mu + b_u + b_i + h_i^\top (D_u + W_y y_u)

so the encoder reads the item's whole rating row (all its rating-typed edges) and the decoder
fills the missing entries. Training (:func:`train_graph_ae`, through the one loop
``gnn.train.run_training``) is full-batch: all training ratings are messages and targets, a
random ``edge_dropout`` share of the messages is dropped each step (GC-MC's message dropout), and
the loss is the mean squared error plus :math:`\tfrac{\lambda}{2n}\lVert W\rVert^2` on the weight
matrices (AutoRec's L2, :math:`n` training ratings). Early stopping on validation RMSE.
Benchmark-only (``bench/rating_ml100k.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from bench.models.rating_sage import LEVELS, Ratings, rmse
from kgrec.gnn.train import TrainConfig, TrainResult, Validation, run_training
from kgrec.kg.errors import ModelError


@dataclass(frozen=True)
class GraphAEConfig:
    """Architecture and regularisation of :class:`RatingGraphAE` (Adam's knobs live in ``TrainConfig``)."""

    hidden: int = 256
    layers: int = 1  # 1 or 2 item layers
    l2: float = 100.0  # lambda of the L2 penalty on the weight matrices
    dropout: float = 0.0  # on the item representation
    edge_dropout: float = 0.0  # share of messages dropped per training step


class TypedAdjacency:
    """Items x (users * levels) 0/1 matrix of rating-typed edges, CSR, with masked copies for dropout."""

    def __init__(self, ratings: Ratings, num_users: int, num_items: int) -> None:
        level = ratings.values.round().long().clamp(LEVELS[0], LEVELS[-1]) - LEVELS[0]
        cols = ratings.users * len(LEVELS) + level
        shape = (num_items, num_users * len(LEVELS))
        ones = torch.ones(len(ratings))
        csr = (
            torch.sparse_coo_tensor(torch.stack([ratings.items, cols]), ones, shape, check_invariants=True)
            .coalesce()
            .to_sparse_csr()
        )
        self.crow, self.col, self.shape = csr.crow_indices(), csr.col_indices(), shape
        self.edges = len(ratings)

    def matrix(self, drop: float = 0.0, generator: torch.Generator | None = None) -> Tensor:
        """The adjacency; with ``drop`` > 0 a random share of edges is zeroed and the rest scaled by 1/(1-drop)."""
        values = torch.ones(self.edges)
        if drop > 0:
            values = (torch.rand(self.edges, generator=generator) >= drop).float() / (1 - drop)
        return torch.sparse_csr_tensor(self.crow, self.col, values, self.shape, check_invariants=False)


class RatingGraphAE(nn.Module):
    """Rating-typed user->item message passing + item-autoencoder decoder."""

    name = "gnn"

    def __init__(
        self,
        num_users: int,
        num_items: int,
        user_x: Tensor,
        item_x: Tensor,
        global_mean: float,
        config: GraphAEConfig | None = None,
    ) -> None:
        super().__init__()
        c = self.config = config or GraphAEConfig()
        if c.layers not in (1, 2):
            raise ModelError(f"RatingGraphAE has 1 or 2 item layers, not {c.layers}")
        self.register_buffer("user_x", user_x.float())
        self.register_buffer("item_x", item_x.float())
        self.messages = nn.Parameter(torch.randn(num_users * len(LEVELS), c.hidden) * 0.03)
        self.item_lin = nn.Linear(item_x.size(1), c.hidden)
        self.second = nn.Linear(c.hidden, c.hidden) if c.layers == 2 else None
        self.user_out = nn.Parameter(torch.randn(num_users, c.hidden) * 0.03)
        self.user_lin = nn.Linear(user_x.size(1), c.hidden, bias=False)
        nn.init.zeros_(self.user_lin.weight)  # start at small predictions, like the id factors
        self.user_bias, self.item_bias = nn.Parameter(torch.zeros(num_users)), nn.Parameter(torch.zeros(num_items))
        self.register_buffer("mu", torch.tensor(float(global_mean)))
        self.drop = nn.Dropout(c.dropout)

    def encode(self, adjacency: Tensor) -> Tensor:
        """Item representations from their rating-typed edges and side features."""
        h = self.drop(torch.sigmoid(adjacency @ self.messages + self.item_lin(self.item_x)))
        if self.second is not None:
            h = self.drop(torch.sigmoid(self.second(h)))
        return h

    def forward(self, adjacency: Tensor, users: Tensor, items: Tensor) -> Tensor:
        """Unclamped predictions for the pairs ``(users[k], items[k])``.

        The whole items x users matrix is decoded with one matmul and then indexed: on CPU that is
        about 10x faster than gathering a row per rating (whose backward is a slow scatter-add).
        """
        scores = self.encode(adjacency) @ (self.user_out + self.user_lin(self.user_x)).T
        scores = scores + self.item_bias[:, None] + self.user_bias[None, :]
        return self.mu + scores.flatten()[items * self.user_bias.numel() + users]

    def penalty(self) -> Tensor:
        """Squared Frobenius norm of the weight matrices (biases excluded)."""
        weights = [self.messages, self.item_lin.weight, self.user_out, self.user_lin.weight]
        if self.second is not None:
            weights.append(self.second.weight)
        return sum(w.pow(2).sum() for w in weights)  # type: ignore[return-value]

    @torch.no_grad()
    def predict(self, adjacency: Tensor, users: Tensor, items: Tensor) -> Tensor:
        """Clamped predictions in eval mode."""
        was = self.training
        self.eval()
        try:
            return self(adjacency, users, items).clamp(1.0, 5.0)
        finally:
            self.train(was)


def train_graph_ae(model: RatingGraphAE, train: Ratings, valid: Ratings, config: TrainConfig) -> TrainResult:
    """Full-batch MSE + L2 with message dropout; early stopping on validation RMSE."""
    if len(train) == 0 or len(valid) == 0:
        raise ModelError("rating training needs non-empty train and valid ratings")
    num_items, num_users = model.item_bias.numel(), model.user_bias.numel()
    graph = TypedAdjacency(train, num_users, num_items)
    full = graph.matrix()
    gen = torch.Generator().manual_seed(config.seed)
    c = model.config

    def batches(_epoch: int) -> Iterator[Tensor]:
        yield graph.matrix(c.edge_dropout, gen) if c.edge_dropout > 0 else full

    def loss(adjacency: Tensor) -> Tensor:
        err = torch.mean((model(adjacency, train.users, train.items) - train.values) ** 2)
        return err + c.l2 / (2 * len(train)) * model.penalty()

    def validate() -> dict[str, float]:
        return {"rmse": rmse(model.predict(full, valid.users, valid.items), valid.values)}

    return run_training(model, batches, loss, Validation(validate, "rmse", minimize=True), config, model.name)

"""The small contract every recommender model implements, and the interaction data it sees.

Ids are 0-based and contiguous per node type (the id maps from ``kg.export`` translate them).
A model answers three questions (after RecBole's contract):

* ``loss(batch)``      — the training loss of a batch of (user, positive, negative) triples;
* ``score(u, i)``      — one score per (user, item) pair;
* ``score_all(users)`` — a ``[len(users), num_items]`` score matrix for full ranking.

Non-trainable baselines (popularity, item-kNN, text similarity) implement the same contract and
``fit`` from the training interactions; ``trainable`` tells the trainer which is which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Interactions:
    """Implicit user→item feedback: ``edge_index[0]`` users, ``edge_index[1]`` items."""

    num_users: int
    num_items: int
    edge_index: Tensor

    def __post_init__(self) -> None:
        if self.edge_index.dim() != 2 or self.edge_index.size(0) != 2:
            raise ValueError(f"edge_index must have shape [2, E], got {tuple(self.edge_index.shape)}")

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.size(1))

    def users(self) -> Tensor:
        """The distinct users that have at least one interaction here."""
        return torch.unique(self.edge_index[0])


@dataclass(frozen=True)
class LinkSplit:
    """Train/validation/test interactions over the same id space; targets never overlap train."""

    train: Interactions
    valid: Interactions
    test: Interactions


@dataclass(frozen=True)
class TrainBatch:
    """Users with one positive and one (or more, ``[B, n]``) negative items each."""

    users: Tensor
    pos_items: Tensor
    neg_items: Tensor


class RecModel(torch.nn.Module, ABC):
    """Base class of every model and baseline."""

    #: False for baselines that are fitted in closed form and never see gradients.
    trainable: bool = True
    #: Name used in results files and tables.
    name: str = "model"

    def fit(self, train: Interactions) -> None:
        """Prepare from the training interactions (graph structure, counts); default: nothing."""

    def begin_epoch(self) -> None:
        """Called by the trainer before each training epoch (e.g. a fresh edge dropout); default: nothing."""

    def loss(self, batch: TrainBatch) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not trainable")

    @abstractmethod
    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """Scores of the pairs ``(users[k], items[k])``; higher means more likely."""

    @abstractmethod
    def score_all(self, users: Tensor) -> Tensor:
        """``[len(users), num_items]`` scores of every item for each user."""

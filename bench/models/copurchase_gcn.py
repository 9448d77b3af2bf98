r"""Benchmark-only model for basket completion: LightGCN over the co-purchase graph.

Product↔product compatibility; the math is in :class:`CoPurchaseGNN`'s docstring. The basket
matrix, its co-occurrence and the normalised adjacency come from ``gnn.graph_ops``; training goes
through the one loop, ``gnn.train.run_training`` (:func:`train_copurchase`). Used by
``bench/basket_online_retail.py``; anything with ``score_products`` can feed ``gnn.bundles``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from kgrec.gnn.graph_ops import basket_matrix, cooccurrence, normalized_adjacency, top_k_per_row
from kgrec.gnn.train import TrainConfig, TrainResult, Validation, run_training

Basket = tuple[list[list[int]], list[int]]  # (contexts, held-out targets)


@dataclass(frozen=True)
class CoPurchaseConfig:
    """Architecture of :class:`CoPurchaseGNN` (optimisation knobs live in ``gnn.train.TrainConfig``)."""

    dim: int = 64
    layers: int = 2
    neighbours: int = 64
    max_context: int = 40
    evidence: bool = True
    seed: int = 42


@dataclass(frozen=True)
class CoPurchaseCounts:
    """``together[a, b]`` = baskets holding a and b (diagonal 0), ``orders[a]`` = baskets holding a."""

    together: sp.csr_matrix
    orders: np.ndarray

    @classmethod
    def from_baskets(cls, baskets: Sequence[Sequence[int]], num_products: int) -> CoPurchaseCounts:
        return cls(*cooccurrence(basket_matrix(baskets, num_products)))

    def confidence(self, leave_one_out: bool = False) -> sp.csr_matrix:
        """Row-normalised ``together / orders`` (``orders - 1`` when one basket is held out)."""
        denom = np.maximum(self.orders - (1 if leave_one_out else 0), 1)
        return sp.diags(1.0 / denom) @ self.together


def copurchase_graph(counts: CoPurchaseCounts, neighbours: int) -> Tensor:
    r""":math:`D^{-1/2} W D^{-1/2}` of the top-``neighbours`` co-purchase graph, ``W = log(1 + orders)``."""
    top = top_k_per_row(counts.together, neighbours)
    w = top.maximum(top.T).tocoo()  # keep an edge when either end ranks it
    index = torch.from_numpy(np.stack([w.row, w.col]).astype(np.int64))
    return normalized_adjacency(index, w.shape[0], torch.from_numpy(np.log1p(w.data).astype(np.float32)))


def _pool(contexts: Sequence[Sequence[int]], n: int) -> sp.csr_matrix:
    x = basket_matrix(contexts, n)
    return sp.diags(1.0 / np.maximum(np.asarray(x.sum(1)).ravel(), 1.0)).astype(np.float32) @ x


class CoPurchaseGNN(torch.nn.Module):
    r"""Product↔product compatibility for basket completion: LightGCN over the co-purchase graph.

    :math:`X^{(0)} = E + T P` (free embedding plus projected text vector :math:`T`),
    :math:`H = \frac{1}{L+1}\sum_{l=0}^{L} \hat W^l X^{(0)}` over the normalised co-purchase graph.
    A basket :math:`S` is :math:`q_S = \frac{1}{|S|}\sum_{a \in S} H_a`; its completion score is

    .. math:: s(S, j) = \langle q_S, H_j\rangle + \beta_j
              + w \log\Big(\epsilon + \frac{1}{|S|}\sum_{a \in S} \mathrm{conf}(a \to j)\Big)

    where the last term (``evidence=True``) is a skip connection carrying the co-purchase edge
    weights themselves, with learned :math:`w`. Training: full softmax over all products on
    leave-one-out training baskets (other basket items masked); the held-out basket is removed
    from the confidences it sees, so the model cannot learn to trust a count that includes the
    answer. ``score_products(anchors, candidates)`` is the ``[A, C]`` pairwise compatibility.
    """

    eps = 1e-4
    name = "copurchase_gcn"

    def __init__(
        self, counts: CoPurchaseCounts, text: Tensor | None = None, config: CoPurchaseConfig | None = None
    ) -> None:
        super().__init__()
        self.config = config or CoPurchaseConfig()
        generator = torch.Generator().manual_seed(self.config.seed)
        n, d = counts.together.shape[0], self.config.dim
        self.counts = counts
        self.graph = copurchase_graph(counts, self.config.neighbours)
        self._conf = counts.confidence().tocsr()
        self._conf_loo = counts.confidence(leave_one_out=True).tocsr()
        self.emb = torch.nn.Parameter(torch.randn(n, d, generator=generator) * 0.1)
        self.bias = torch.nn.Parameter(torch.zeros(n))
        self.evidence_weight = torch.nn.Parameter(
            torch.tensor(1.0 if self.config.evidence else 0.0), requires_grad=self.config.evidence
        )
        self.text: Tensor
        self.register_buffer("text", text.float() if text is not None else torch.zeros(n, 0))
        self.proj = torch.nn.Linear(self.text.size(1), d, bias=False) if self.text.size(1) else None

    @property
    def num_products(self) -> int:
        return int(self.emb.size(0))

    def product_embeddings(self) -> Tensor:
        x = self.emb if self.proj is None else self.emb + self.proj(self.text)
        total, h = x, x
        for _ in range(self.config.layers):
            h = torch.sparse.mm(self.graph, h)
            total = total + h
        return total / (self.config.layers + 1)

    def _evidence(self, contexts: Sequence[Sequence[int]], targets: Sequence[int] | None) -> Tensor:
        pool = _pool(contexts, self.num_products)
        if targets is None:
            conf = (pool @ self._conf).toarray()
        else:  # leave the training basket out: one order fewer for (a, target) and for a
            conf = (pool @ self._conf_loo).toarray()
            loo = pool @ (1.0 / np.maximum(self.counts.orders - 1, 1))
            conf[np.arange(len(targets)), targets] -= loo
        return torch.log(self.eps + torch.from_numpy(conf.clip(min=0)).float())

    def _logits(self, h: Tensor, contexts: Sequence[Sequence[int]], targets: Sequence[int] | None = None) -> Tensor:
        pool = _pool(contexts, self.num_products).tocoo()
        pool_t = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([pool.row, pool.col]).astype(np.int64)), torch.from_numpy(pool.data), pool.shape
        )
        logits = torch.sparse.mm(pool_t, h) @ h.T + self.bias
        if self.config.evidence:
            logits = logits + self.evidence_weight * self._evidence(contexts, targets)
        logits[torch.from_numpy(pool.row.astype(np.int64)), torch.from_numpy(pool.col.astype(np.int64))] = float("-inf")
        return logits

    def score_baskets(self, contexts: Sequence[Sequence[int]]) -> Tensor:
        """``[len(contexts), num_products]`` completion scores; basket items get ``-inf``."""
        with torch.no_grad():
            return self._logits(self.product_embeddings(), contexts)

    def score_products(self, anchor_items: Tensor, candidate_items: Tensor) -> Tensor:
        """``[A, C]`` compatibility of each anchor product with each candidate product."""
        with torch.no_grad():
            h = self.product_embeddings()
            out = h[anchor_items] @ h[candidate_items].T + self.bias[candidate_items]
            if self.config.evidence:
                a, c = anchor_items.numpy(), candidate_items.numpy()
                conf = torch.from_numpy(self._conf[a][:, c].toarray()).float()
                out = out + self.evidence_weight * torch.log(self.eps + conf)
            return out

    def basket_loss(self, batch: Basket) -> Tensor:
        """Full-softmax cross-entropy of the held-out items given the rest of their baskets."""
        contexts, targets = batch
        logits = self._logits(self.product_embeddings(), contexts, targets)
        return F.cross_entropy(logits, torch.tensor(targets))


def leave_one_out_batches(
    baskets: Sequence[Sequence[int]], batch_size: int, max_context: int, seed: int
) -> Iterator[Basket]:
    """Baskets of 2+ items in a seeded random order; each hides one random item (the target)."""
    rng = np.random.default_rng(seed)
    usable = [np.asarray(b) for b in baskets if len(b) >= 2]
    order = rng.permutation(len(usable))
    for start in range(0, len(usable), batch_size):
        shuffled = [rng.permutation(usable[k]) for k in order[start : start + batch_size]]
        yield [b[1 : 1 + max_context].tolist() for b in shuffled], [int(b[0]) for b in shuffled]


def train_copurchase(
    model: CoPurchaseGNN, baskets: Sequence[Sequence[int]], config: TrainConfig, validation: Validation | None = None
) -> TrainResult:
    """Leave-one-out softmax training through the one loop (``gnn.train.run_training``)."""

    def batches(epoch: int) -> Iterator[Basket]:
        return leave_one_out_batches(baskets, config.batch_size, model.config.max_context, config.seed + epoch)

    return run_training(model, batches, model.basket_loss, validation, config, name=model.name)

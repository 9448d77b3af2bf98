r"""Product↔product compatibility for basket completion: LightGCN over the co-purchase graph.

The model, its configuration and the basket co-occurrence counts it is built from; the math is in
:class:`CoPurchaseGNN`'s docstring. Used by ``gnn.bundles`` (as a ``ProductScorer``) and by
``bench/basket_online_retail.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class CoPurchaseConfig:
    """Hyper-parameters of :class:`CoPurchaseGNN`."""

    dim: int = 64
    layers: int = 2
    neighbours: int = 64
    max_context: int = 40
    lr: float = 5e-3
    batch_size: int = 512
    evidence: bool = True
    seed: int = 42


@dataclass(frozen=True)
class CoPurchaseCounts:
    """``together[a, b]`` = baskets holding a and b (diagonal 0), ``orders[a]`` = baskets holding a."""

    together: sp.csr_matrix
    orders: np.ndarray

    @classmethod
    def from_baskets(cls, baskets: Sequence[Sequence[int]], num_products: int) -> CoPurchaseCounts:
        rows = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
        cols = np.fromiter((i for b in baskets for i in b), dtype=np.int64, count=len(rows))
        x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), (len(baskets), num_products))
        x.data[:] = 1.0
        c = (x.T @ x).tocsr()
        orders = c.diagonal().copy()
        c.setdiag(0)
        c.eliminate_zeros()
        return cls(c, orders)

    def confidence(self, leave_one_out: bool = False) -> sp.csr_matrix:
        """Row-normalised ``together / orders`` (``orders - 1`` when one basket is held out)."""
        denom = np.maximum(self.orders - (1 if leave_one_out else 0), 1)
        return sp.diags(1.0 / denom) @ self.together


def copurchase_graph(counts: CoPurchaseCounts, neighbours: int) -> Tensor:
    r""":math:`D^{-1/2} W D^{-1/2}` of the top-``neighbours`` co-purchase graph, ``W = log(1 + orders)``."""
    c, n = counts.together, counts.together.shape[0]
    keep_r, keep_c, keep_v = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for a in range(n):
        lo, hi = c.indptr[a], c.indptr[a + 1]
        top = np.argsort(-c.data[lo:hi], kind="stable")[:neighbours] + lo
        keep_r.append(np.full(len(top), a))
        keep_c.append(c.indices[top])
        keep_v.append(np.log1p(c.data[top]))
    w = sp.coo_matrix((np.concatenate(keep_v), (np.concatenate(keep_r), np.concatenate(keep_c))), (n, n)).tocsr()
    w = w.maximum(w.T).tocoo()
    deg = np.asarray(w.sum(1)).ravel()
    inv = np.where(deg > 0, deg, 1.0) ** -0.5
    values = (inv[w.row] * w.data * inv[w.col]).astype(np.float32)
    index = torch.from_numpy(np.stack([w.row, w.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(values), (n, n)).coalesce()


def _pool(contexts: Sequence[Sequence[int]], n: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(contexts)), [len(c) for c in contexts])
    cols = np.fromiter((i for c in contexts for i in c), dtype=np.int64, count=len(rows))
    vals = 1.0 / np.repeat([max(len(c), 1) for c in contexts], [len(c) for c in contexts])
    return sp.csr_matrix((vals.astype(np.float32), (rows, cols)), (len(contexts), n))


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

    def fit_baskets(self, baskets: Sequence[Sequence[int]], epochs: int, on_epoch=None) -> list[float]:
        """Leave-one-out softmax training; ``on_epoch(epoch, loss)`` may return False to stop."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        usable = [np.asarray(b) for b in baskets if len(b) >= 2]
        opt = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        losses = []
        for epoch in range(1, epochs + 1):
            self.train()
            total = 0.0
            for start in range(0, len(usable), cfg.batch_size):
                chunk = usable[start : start + cfg.batch_size]
                targets, contexts = [], []
                for b in chunk:
                    b = rng.permutation(b)
                    targets.append(int(b[0]))
                    contexts.append(b[1 : 1 + cfg.max_context].tolist())
                logits = self._logits(self.product_embeddings(), contexts, targets)
                loss = F.cross_entropy(logits, torch.tensor(targets))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(chunk)
            losses.append(total / max(len(usable), 1))
            rng.shuffle(usable)
            if on_epoch is not None and on_epoch(epoch, losses[-1]) is False:
                break
        self.eval()
        return losses

r"""Basket scorers: given the products already in a basket (its *context*), score every product.

One small protocol, :class:`BasketScorer`: ``fit(baskets, num_products)`` from the training
baskets (lists of product ids), then ``score(contexts) -> [B, num_products]``. With the binarised
training baskets×products matrix :math:`X`, :math:`c_i` the baskets holding :math:`i`,
:math:`n_{ij}` those holding both (every pair counted, ``min_count`` 1) and :math:`S` a context:

* ``popularity``  — :math:`c_j`;
* ``confidence``  — :math:`\sum_{i \in S} n_{ij} / c_i` (sum of :math:`P(j \mid i)`);
* ``lift``        — :math:`\sum_{i \in S} n_{ij} |X| / (c_i c_j)`;
* ``itemknn``     — :math:`\sum_{i \in S} \mathrm{sim}_{ij}`, cosine :math:`n_{ij}/\sqrt{c_i c_j}`
  kept for the ``k`` nearest neighbours of each :math:`i`;
* ``ease``        — :math:`x_S B` with EASE's :math:`B` (Steck 2019) fitted on the baskets;
* ``text``        — mean cosine of MiniLM vectors: :math:`\bar t_S^\top t_j`;
* ``gnn``         — :class:`BasketKGCF`, the knowledge-graph GNN with the TRAINING BASKETS as its
  "user" nodes (see its docstring); :class:`FusedScorer` adds z-scored item-item terms.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.gnn.contract import Interactions, LinkSplit
from kgrec.gnn.graph_ops import basket_matrix, cooccurrence, top_k_per_row
from kgrec.gnn.models.kgcf import KGCF, KGCFConfig, row_z
from kgrec.gnn.train import TrainConfig, TrainResult, Validation, train_model
from kgrec.kg.errors import ModelError

Baskets = Sequence[Sequence[int]]


class BasketScorer(Protocol):
    """What every basket model offers."""

    name: str

    def fit(self, baskets: Baskets, num_products: int) -> None: ...

    def score(self, contexts: Baskets) -> Tensor: ...


def _context_matrix(contexts: Baskets, n: int) -> sp.csr_matrix:
    return basket_matrix(contexts, n)


def _dense(x: sp.spmatrix) -> Tensor:
    arr = x.toarray()
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


class Popularity:
    """Baskets holding each product."""

    name = "popularity"

    def __init__(self) -> None:
        self.counts = torch.zeros(0)

    def fit(self, baskets: Baskets, num_products: int) -> None:
        _, counts = cooccurrence(basket_matrix(baskets, num_products))
        self.counts = torch.from_numpy(counts.astype(np.float32))

    def score(self, contexts: Baskets) -> Tensor:
        return self.counts.unsqueeze(0).expand(len(contexts), -1).clone()


class PairScorer:
    """``confidence`` (sum of P(j|i)), ``lift`` or ``itemknn`` (cosine, top ``k``) over context items."""

    def __init__(self, kind: str = "confidence", min_count: int = 1, k: int = 100) -> None:
        if kind not in ("confidence", "lift", "itemknn"):
            raise ModelError(f"unknown pair scorer {kind!r}: use confidence, lift or itemknn")
        self.name, self.kind, self.min_count, self.k = kind, kind, min_count, k
        self.matrix = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, baskets: Baskets, num_products: int) -> None:
        together, counts = cooccurrence(basket_matrix(baskets, num_products))
        together = together.tocoo()
        keep = together.data >= self.min_count
        i, j, n_ij = together.row[keep], together.col[keep], together.data[keep].astype(np.float64)
        c = np.maximum(counts.astype(np.float64), 1.0)
        if self.kind == "confidence":
            value = n_ij / c[i]
        elif self.kind == "lift":
            value = n_ij * max(len(baskets), 1) / (c[i] * c[j])
        else:
            value = n_ij / np.sqrt(c[i] * c[j])
        m = sp.csr_matrix((value.astype(np.float32), (i, j)), shape=(num_products, num_products))
        self.matrix = top_k_per_row(m, self.k).astype(np.float32) if self.kind == "itemknn" else m

    def score(self, contexts: Baskets) -> Tensor:
        return _dense(_context_matrix(contexts, self.matrix.shape[0]) @ self.matrix)


class Ease:
    r"""EASE on the training baskets: :math:`P = (X^\top X + \lambda I)^{-1}`, :math:`B = -P/\mathrm{diag}(P)`."""

    name = "ease"

    def __init__(self, l2: float = 200.0) -> None:
        self.l2 = l2
        self.b = torch.zeros(0, 0)

    def fit(self, baskets: Baskets, num_products: int) -> None:
        x = basket_matrix(baskets, num_products)
        gram = torch.from_numpy((x.T @ x).toarray()).double()
        gram.diagonal().add_(self.l2)
        p = torch.linalg.inv(gram)
        b = -p / p.diagonal().unsqueeze(0)
        b.diagonal().zero_()
        self.b = b.float()

    def score(self, contexts: Baskets) -> Tensor:
        return _dense(_context_matrix(contexts, self.b.shape[0])) @ self.b


class TextScorer:
    """Mean cosine between the context's MiniLM vectors and every product's (no text: zero)."""

    name = "text"

    def __init__(self, vectors: np.ndarray | Tensor) -> None:
        v = torch.as_tensor(vectors, dtype=torch.float32)
        self.vectors = torch.nn.functional.normalize(v, dim=1) if v.numel() else v

    def fit(self, baskets: Baskets, num_products: int) -> None:
        if self.vectors.shape[0] != num_products or self.vectors.numel() == 0:
            raise ModelError(f"the text scorer needs one vector per product ({num_products}); embed the products first")

    def score(self, contexts: Baskets) -> Tensor:
        pool = _dense(_context_matrix(contexts, self.vectors.shape[0]))
        pool = pool / pool.sum(1, keepdim=True).clamp_min(1.0)
        return (pool @ self.vectors) @ self.vectors.T


class FusedScorer:
    r""":math:`\sum_m w_m\, z(s_m)`: z-scored (per basket, over products) scores of several scorers."""

    def __init__(self, name: str, parts: Sequence[tuple[float, BasketScorer]]) -> None:
        self.name, self.parts = name, list(parts)

    def fit(self, baskets: Baskets, num_products: int) -> None:
        """The parts are fitted already (fusion weights are chosen on validation afterwards)."""

    def score(self, contexts: Baskets) -> Tensor:
        out: Tensor | None = None
        for weight, scorer in self.parts:
            if weight == 0:
                continue
            z = weight * row_z(scorer.score(contexts).float())
            out = z if out is None else out + z
        if out is None:
            raise ModelError("every fusion weight is 0: nothing to score with")
        return out


class BasketKGCF(KGCF):
    r"""KGCF whose "user" nodes are training baskets, so it learns product↔product structure.

    Nodes ``[training baskets | products | categories, attributes, brands]``; edges: basket→its
    products and the catalogue relations; propagation, text inputs, loss as in
    :class:`~kgrec.gnn.models.kgcf.KGCF` (fusion there switched off). A held-out basket :math:`S`
    is **folded in** exactly as LightGCN would propagate a new basket node joined to its context
    items, with :math:`d_i` the weighted degree of product :math:`i` in the training graph:

    .. math::
        q_S = \frac{1}{L}\sum_{l=0}^{L-1}\sum_{i \in S} \frac{\mathbf{E}^{(l)}_i}{\sqrt{|S|\,d_i}},
        \qquad s(S, j) = q_S^\top \mathbf{E}_j
    """

    name = "gnn"

    def fit(self, train: Interactions) -> None:
        super().fit(train)
        u, i = train.edge_index.long().cpu()
        pairs = torch.unique(u * self.num_items + i)
        deg = torch.bincount(pairs % self.num_items, minlength=self.num_items).float()
        kg = self.kg_edges.cpu()
        first, last = self.num_users, self.num_users + self.num_items
        for side in (kg[0], kg[1]):
            hit = (side >= first) & (side < last)
            deg += torch.bincount(side[hit] - first, weights=self.kg_weights.cpu()[hit], minlength=self.num_items)
        self.degree = deg.clamp_min(1.0)
        self._layers: list[Tensor] | None = None

    def train(self, mode: bool = True) -> BasketKGCF:
        self._layers = None
        super().train(mode)
        return self

    def _product_layers(self) -> list[Tensor]:
        """``E^(0) .. E^(L-1)`` of the products (cached in eval mode)."""
        if getattr(self, "_layers", None) is not None and not self.training:
            return self._layers  # type: ignore[return-value]
        adj = self._adj
        if adj is None:
            raise ModelError("the basket GNN has no graph yet; fit it first")
        adj = adj.to(self.embedding.weight.device)
        x = self._input()
        rows = slice(self.num_users, self.num_users + self.num_items)
        layers = [x[rows]]
        for _ in range(self.config.num_layers - 1):
            x = torch.sparse.mm(adj, x)
            layers.append(x[rows])
        layers = [t.detach() for t in layers]
        if not self.training:
            self._layers = layers
        return layers

    @torch.no_grad()
    def score_baskets(self, contexts: Baskets) -> Tensor:
        """``[B, num_products]`` GNN scores of held-out baskets folded in from their contexts."""
        device = self.embedding.weight.device
        x = _dense(_context_matrix(contexts, self.num_items)).to(device)
        size = x.sum(1, keepdim=True).clamp_min(1.0)
        w = x / torch.sqrt(size * self.degree.to(device).unsqueeze(0))
        q = torch.stack([w @ layer for layer in self._product_layers()]).sum(0) / self.config.num_layers
        items = self.embeddings()[self.num_users : self.num_users + self.num_items]
        return (q @ items.T).float().cpu()


class GnnScorer:
    """The basket GNN as a :class:`BasketScorer`: catalogue edges and text fixed, baskets fitted."""

    name = "gnn"

    def __init__(
        self,
        catalogue: Tensor,
        num_catalogue_nodes: int,
        text: Tensor | None,
        config: KGCFConfig,
        train_config: TrainConfig,
    ) -> None:
        """``catalogue``: ``[2, E]`` edges numbered ``[products | other nodes]`` (no basket nodes)."""
        self.catalogue, self.num_catalogue_nodes, self.text = catalogue.long(), num_catalogue_nodes, text
        self.config, self.train_config = config, train_config
        self.model: BasketKGCF | None = None
        self.result: TrainResult | None = None
        self.validation: Validation | None = None

    def fit(self, baskets: Baskets, num_products: int) -> None:
        """Build the graph over the training baskets and train through ``gnn.train.train_model``."""
        lengths = [len(set(b)) for b in baskets]
        rows = np.repeat(np.arange(len(baskets)), lengths)
        cols = np.fromiter((i for b in baskets for i in sorted(set(b))), dtype=np.int64, count=int(sum(lengths)))
        nb = len(baskets)
        train = Interactions(nb, num_products, torch.from_numpy(np.stack([rows, cols])).long())
        empty = Interactions(nb, num_products, torch.zeros(2, 0, dtype=torch.long))
        model = BasketKGCF(
            nb,
            num_products,
            self.catalogue + nb,
            torch.ones(self.catalogue.size(1)),
            nb + self.num_catalogue_nodes,
            self.text,
            self.config,
        )
        model.fit(train)
        self.model = model
        self.result = train_model(model, LinkSplit(train, empty, empty), self.train_config, validation=self.validation)

    def score(self, contexts: Baskets) -> Tensor:
        if self.model is None:
            raise ModelError("the basket GNN is not trained yet: call fit(baskets, num_products)")
        return self.model.score_baskets(contexts)

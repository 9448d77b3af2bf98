r"""Non-trainable baselines in the :class:`~kgrec.gnn.contract.RecModel` contract (``fit`` only).

With :math:`X \in \{0,1\}^{U \times I}` the binarised training interactions:

* ``popularity``: :math:`s(u, i) = \sum_u X_{ui}` (the item's training count, same for everyone).
* ``itemknn``: cosine item-item similarity
  :math:`S_{ij} = \frac{(X^\top X)_{ij}}{\sqrt{n_i n_j} + h}` (shrink :math:`h`, zero diagonal),
  keeping for each item :math:`j` only its ``k`` most similar items :math:`i`;
  :math:`s(u, j) = \sum_{i} X_{ui} S_{ij}`.
* ``text``: :math:`p_u = \frac{1}{|I_u|} \sum_{i \in I_u} t_i` over the user's training items
  (text embeddings :math:`t_i`), :math:`s(u, i) = \cos(p_u, t_i)`.
* ``ease`` (Steck, WWW 2019): :math:`P = (X^\top X + \lambda I)^{-1}`,
  :math:`B = I - P \, \mathrm{diag}(1 / \mathrm{diag}(P))` (so :math:`B_{ii} = 0`),
  :math:`s(u, \cdot) = X_u B`. Dense :math:`I \times I` (float32: 2.5 GB at 25k items), solved by
  :func:`ease_matrix` with an in-place Cholesky factorisation and inverse from the factor (LAPACK
  ``spotrf``/``spotri``: half the flops of a general inverse, one dense buffer); scoring multiplies the user's sparse row with :math:`B`.
  Refused above ``max_items``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import lapack
from torch import Tensor

from kgrec.gnn.contract import Interactions, RecModel
from kgrec.gnn.graph_ops import interaction_matrix
from kgrec.kg.errors import ModelError


@dataclass(frozen=True)
class ItemKNNConfig:
    k: int = 100
    shrink: float = 0.0


@dataclass(frozen=True)
class EASEConfig:
    l2: float = 500.0
    max_items: int = 16_000


def ease_matrix(x: sp.csr_matrix, l2: float, block: int = 2048) -> Tensor:
    r"""EASE's :math:`B` ``[I, I]`` (float32) for the 0/1 matrix ``x``: :math:`P = (X^\top X + \lambda I)^{-1}`,
    :math:`B = -P / \mathrm{diag}(P)` column-wise, :math:`B_{ii} = 0`.

    One ``[I, I]`` buffer all the way: LAPACK's ``spotrf`` (Cholesky) and ``spotri`` (inverse from
    the factor) overwrite the Gram matrix in place (only one triangle), which is then mirrored in
    ``block``-row slices. Peak memory is one dense matrix (2.5 GB at 24,915 items)."""
    n = x.shape[1]
    gram = (x.T @ x).astype(np.float32).toarray()  # symmetric, so its C buffer is also its Fortran buffer
    gram.flat[:: n + 1] += np.float32(l2)
    fortran = gram.T
    factor, info = lapack.spotrf(fortran, lower=1, overwrite_a=1, clean=0)
    if info == 0:
        inverse, info = lapack.spotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise ModelError(f"EASE: X^T X + {l2} I is not positive definite (LAPACK info {info}); raise l2")
    if not np.shares_memory(inverse, gram):  # LAPACK worked on a copy
        gram = np.ascontiguousarray(inverse.T)
    # the Fortran lower triangle is the C upper triangle: mirror it into the lower one, block by block
    for start in range(0, n, block):
        stop = min(start + block, n)
        gram[start:stop, :start] = gram[:start, start:stop].T
        diag = gram[start:stop, start:stop]
        diag[np.tril_indices(stop - start, -1)] = diag.T[np.tril_indices(stop - start, -1)]
    p = torch.from_numpy(gram)
    p.div_(p.diagonal().neg().unsqueeze(0))
    p.diagonal().zero_()
    return p


def sparse_rows(x: sp.csr_matrix, users: Tensor) -> Tensor:
    """The rows ``users`` of ``x`` as a torch sparse CSR tensor (for ``torch.sparse.mm`` with a dense matrix)."""
    sub = x[users.cpu().numpy()].tocsr()
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(sub.indptr.astype(np.int64)),
            torch.from_numpy(sub.indices.astype(np.int64)),
            torch.from_numpy(sub.data.astype(np.float32)),
            size=sub.shape,
        )


def sparse_times_dense(x: sp.csr_matrix, users: Tensor, dense: Tensor) -> Tensor:
    """``x[users] @ dense`` without densifying the rows: cost ~ (nonzeros of the rows) x columns."""
    return torch.sparse.mm(sparse_rows(x, users), dense)


class _Fitted(RecModel):
    trainable = False

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_device_anchor", torch.zeros(0))
        self._x: sp.csr_matrix | None = None

    def _require(self) -> sp.csr_matrix:
        if self._x is None:
            raise ModelError(f"{type(self).__name__} is not fitted; call fit(train) first")
        return self._x

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        full = self.score_all(users)
        return full[torch.arange(users.numel(), device=full.device), items.to(full.device)]


class Popularity(_Fitted):
    """Items ranked by their number of training interactions."""

    name = "popularity"

    def fit(self, train: Interactions) -> None:
        self._x = interaction_matrix(train)
        self.counts = torch.bincount(train.edge_index[1].long().cpu(), minlength=train.num_items).float()

    def score_all(self, users: Tensor) -> Tensor:
        self._require()
        return self.counts.to(users.device).expand(users.numel(), -1).clone()


class ItemKNN(_Fitted):
    """Item-based collaborative filtering with top-``k`` cosine neighbours (sparse)."""

    name = "itemknn"

    def __init__(self, config: ItemKNNConfig | None = None, chunk: int = 1024) -> None:
        super().__init__()
        self.config = config or ItemKNNConfig()
        self.k, self.shrink, self.chunk = self.config.k, self.config.shrink, chunk
        self.sim: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        x = interaction_matrix(train)
        self._x = x
        xt = x.T.tocsr()  # X^T X column block by column block: the dense block stays small
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).astype(np.float32)
        n_items = x.shape[1]
        k = min(self.k, max(n_items - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.chunk):
            stop = min(start + self.chunk, n_items)
            co = torch.from_numpy((xt @ x[:, start:stop]).toarray())  # [I, chunk]
            co /= torch.from_numpy(np.outer(norms, norms[start:stop]) + self.shrink + 1e-12)
            co[torch.arange(start, stop), torch.arange(stop - start)] = 0.0
            top = co.topk(k, dim=0)  # the k most similar source items i of each target j
            keep = top.values > 0
            rows.append(top.indices[keep].numpy())
            cols.append((torch.arange(start, stop).expand(k, -1))[keep].numpy())
            vals.append(top.values[keep].numpy())
        self.sim = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
        )

    def score_all(self, users: Tensor) -> Tensor:
        x = self._require()
        assert self.sim is not None
        out = (x[users.cpu().numpy()] @ self.sim).toarray()
        return torch.from_numpy(out).to(users.device)


class TextSimilarity(_Fitted):
    """Cosine between the mean text embedding of a user's training items and every item."""

    name = "text"

    def __init__(self, item_embeddings: Tensor) -> None:
        super().__init__()
        if item_embeddings.dim() != 2:
            raise ModelError("item_embeddings must be [num_items, dim]; run kg.embeddings first")
        emb = item_embeddings.float()
        self.items: Tensor
        self.register_buffer("items", torch.nn.functional.normalize(emb, dim=1))

    def fit(self, train: Interactions) -> None:
        if train.num_items != self.items.size(0):
            raise ModelError(
                f"{self.items.size(0)} item embeddings for {train.num_items} items; "
                "export embeddings and interactions from the same graph"
            )
        self._x = interaction_matrix(train)
        counts = np.asarray(self._x.sum(axis=1)).ravel()
        inv = sp.diags(1.0 / np.maximum(counts, 1.0)).astype(np.float32)
        mean = torch.from_numpy(((inv @ self._x) @ self.items.cpu().numpy()).astype(np.float32))
        self.profiles = torch.nn.functional.normalize(mean, dim=1)

    def score_all(self, users: Tensor) -> Tensor:
        self._require()
        return self.profiles[users.cpu()].to(self.items.device) @ self.items.t()


class EASE(_Fitted):
    """Closed-form linear item-item autoencoder; dense, so only for moderate catalogues."""

    name = "ease"

    def __init__(self, config: EASEConfig | None = None) -> None:
        super().__init__()
        self.config = config or EASEConfig()
        self.l2, self.max_items = self.config.l2, self.config.max_items

    def fit(self, train: Interactions) -> None:
        if train.num_items > self.max_items:
            raise ModelError(
                f"EASE needs a dense {train.num_items}^2 inverse; raise max_items "
                f"(now {self.max_items}) only with enough memory and time"
            )
        self._x = interaction_matrix(train)
        self.weights = torch.zeros(0)  # free the previous fit's matrix before the new one is built
        self.weights = ease_matrix(self._x, self.l2)

    def score_all(self, users: Tensor) -> Tensor:
        x = self._require()
        return sparse_times_dense(x, users, self.weights).to(users.device)

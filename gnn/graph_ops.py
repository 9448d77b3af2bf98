r"""The one home of the graph math every model, trainer and benchmark shares.

* **devices** — :func:`resolve_device` (``auto`` → CUDA when torch sees a GPU);
* **normalised adjacency** — :func:`normalized_adjacency` is
  :math:`\hat A = D^{-1/2} A D^{-1/2}` of a (weighted) graph through PyG's ``gcn_norm`` (no self
  loops), as a sparse CSR tensor for ``torch.sparse.mm``; :func:`bipartite_adjacency` builds the
  symmetric rows∪columns graph of a bipartite relation (users first) and normalises it;
  :func:`mean_pool_matrix` is the row-normalised membership matrix (``M @ X`` = mean of members);
* **baskets** — re-exported from :mod:`kgrec.kg.baskets` (the lowest layer, so the graph's own
  co-purchase statistics use the same code): :func:`binary_matrix` / :func:`basket_matrix` are the
  0/1 baskets×products (or users×items) matrix :math:`X`, :func:`cooccurrence` its
  :math:`X^\top X` with a zero diagonal plus the per-product basket counts, :func:`top_k_per_row`;
  :func:`interaction_matrix` is :math:`X` of training interactions;
* **negatives** — :class:`NegativeSampler`, exact uniform sampling from each user's
  non-positives (vectorised, never a training positive) and hard negatives (the best-scoring of
  several uniform candidates).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import coalesce, to_torch_csr_tensor

from kgrec.gnn.contract import Interactions
from kgrec.kg.baskets import basket_matrix, binary_matrix, cooccurrence, top_k_per_row
from kgrec.kg.errors import ModelError

__all__ = [  # the basket math is re-exported so models import all shared math from here
    "NegativeSampler",
    "basket_matrix",
    "binary_matrix",
    "bipartite_adjacency",
    "cooccurrence",
    "interaction_matrix",
    "mean_pool_matrix",
    "normalized_adjacency",
    "resolve_device",
    "top_k_per_row",
]


def resolve_device(setting: str) -> torch.device:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; an explicit ``cuda`` without a GPU fails."""
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but torch sees no GPU: use --device cpu or auto")
    return torch.device(setting)


# -- adjacency (torch sparse) -------------------------------------------------------------------------
def normalized_adjacency(
    edge_index: Tensor, num_nodes: int, edge_weight: Tensor | None = None, reduce: str = "sum"
) -> Tensor:
    r""":math:`D^{-1/2} A D^{-1/2}` ``[N, N]`` (float32 sparse CSR); repeated edges are merged by ``reduce``
    (``sum`` or ``max`` of their weights).

    ``edge_index`` should list both directions of an undirected graph; degrees are weighted.
    """
    edge_index = edge_index.long().cpu()
    weight = None if edge_weight is None else edge_weight.float().cpu()
    edge_index, weight = coalesce(edge_index, weight, num_nodes=num_nodes, reduce=reduce)
    edge_index, weight = gcn_norm(edge_index, weight, num_nodes, add_self_loops=False)
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return to_torch_csr_tensor(edge_index, weight.float(), size=(num_nodes, num_nodes))


def bipartite_adjacency(rows: Tensor | np.ndarray, cols: Tensor | np.ndarray, n_rows: int, n_cols: int) -> Tensor:
    """Normalised adjacency ``[R+C, R+C]`` of the binarised bipartite graph (rows first, then columns)."""
    r, c = torch.as_tensor(rows).long().cpu(), torch.as_tensor(cols).long().cpu()
    key = torch.unique(r * n_cols + c)  # binarise repeated interactions
    r, c = key // n_cols, key % n_cols + n_rows
    edge_index = torch.stack([torch.cat([r, c]), torch.cat([c, r])])
    return normalized_adjacency(edge_index, n_rows + n_cols)


def mean_pool_matrix(rows: Tensor | np.ndarray, cols: Tensor | np.ndarray, n_rows: int, n_cols: int) -> Tensor:
    """Row-normalised membership ``[R, C]`` (sparse CSR): ``M @ X`` is the mean of each row's members."""
    r, c = torch.as_tensor(rows).long().cpu(), torch.as_tensor(cols).long().cpu()
    size = torch.bincount(r, minlength=n_rows).float().clamp(min=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return to_torch_csr_tensor(torch.stack([r, c]), 1.0 / size[r], size=(n_rows, n_cols))


# -- baskets (scipy sparse; the basket matrix itself lives in kgrec.kg.baskets) -----------------------
def interaction_matrix(train: Interactions) -> sp.csr_matrix:
    """Binarised ``[U, I]`` matrix of user→item interactions."""
    u, i = train.edge_index.long().cpu().numpy()
    return binary_matrix(u, i, (train.num_users, train.num_items))


# -- negative sampling ----------------------------------------------------------------------------------
class NegativeSampler:
    """Uniform or hard negatives drawn from each user's NON-positives: never a training positive.

    Exact and vectorised: with a user's sorted positives :math:`p_0 < p_1 < \\dots`, the ``r``-th
    non-positive item is :math:`r + |\\{j : p_j - j \\le r\\}|`, found with one ``searchsorted``.
    """

    def __init__(self, positives: Interactions, generator: torch.Generator | None = None) -> None:
        self.num_items = n = positives.num_items
        ei = positives.edge_index.long().cpu()
        key = torch.unique(ei[0] * n + ei[1])
        user, item = key // n, key % n
        self.degree = torch.bincount(user, minlength=positives.num_users)
        self.rowptr = torch.zeros(positives.num_users + 1, dtype=torch.long)
        self.rowptr[1:] = torch.cumsum(self.degree, 0)
        within = torch.arange(key.numel()) - self.rowptr[user]
        self._gap_keys = user * (n + 1) + (item - within)  # sorted: by user, then non-decreasing gaps
        self.generator = generator or torch.Generator().manual_seed(0)

    def uniform(self, users: Tensor, n: int = 1) -> Tensor:
        """``[len(users), n]`` items drawn uniformly from each user's non-positives."""
        u = users.long().cpu().unsqueeze(1).expand(-1, n).reshape(-1)
        free = self.num_items - self.degree[u]
        if u.numel() and int(free.min()) <= 0:
            raise ModelError("a user interacted with every item: there is no negative to sample for them")
        r = (torch.rand(u.shape, generator=self.generator) * free).long().clamp(max=free - 1)
        below = torch.searchsorted(self._gap_keys, u * (self.num_items + 1) + r, right=True) - self.rowptr[u]
        return (r + below).view(-1, n)

    @torch.no_grad()
    def hard(
        self, score: Callable[[Tensor, Tensor], Tensor], users: Tensor, n: int, candidates: int, chunk: int = 1 << 20
    ) -> Tensor:
        """``[len(users), n]``: per slot the best-scoring of ``candidates`` uniform non-positives.

        ``score(users, items)`` scores pairs (e.g. ``model.score`` in eval mode); called in chunks of
        ``chunk`` pairs.
        """
        cand = self.uniform(users, n * candidates)  # [B, n*C]
        flat_u = users.long().cpu().unsqueeze(1).expand_as(cand).reshape(-1)
        flat_i = cand.reshape(-1)
        scores = torch.cat(
            [score(a, b).float().cpu() for a, b in zip(flat_u.split(chunk), flat_i.split(chunk), strict=True)]
        )
        best = scores.view(-1, n, candidates).argmax(-1, keepdim=True)
        return cand.view(-1, n, candidates).gather(2, best).squeeze(2)

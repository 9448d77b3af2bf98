r"""User→bundle recommendation with two cross-aligned graph views (CrossCBR, Ma et al. KDD 2022).

Ids: users ``0..U-1``, bundles ``0..B-1``, items ``0..I-1``. Two LightGCN views:

* **bundle view** — LightGCN on the user–bundle training graph :math:`A_{UB}` gives
  :math:`(u^B, b^B)`;
* **item view** — LightGCN on the user–item graph :math:`A_{UI}` gives :math:`(u^I, i^I)`, and a
  bundle is the mean of its items: :math:`b^I = \frac{1}{|b|}\sum_{i \in b} i^I`.

Propagation over the symmetric-normalised bipartite graph :math:`\hat A = D^{-1/2} A D^{-1/2}`,
:math:`L` layers, each layer's output L2-normalised and summed (CrossCBR's variant):

.. math:: E^{(l+1)} = \hat A E^{(l)} / (l + 2), \qquad
          E = E^{(0)} + \sum_{l \ge 1} E^{(l)} / \lVert E^{(l)} \rVert_2

Score :math:`s(u, b) = \langle u^B, b^B\rangle + \langle u^I, b^I\rangle`. Loss: BPR plus the
cross-view InfoNCE that aligns the two views of the same user and of the same bundle:

.. math:: \mathcal{L} = -\log\sigma(s(u,b^+) - s(u,b^-))
          + \lambda \tfrac{1}{2}\,(\mathrm{CL}(u^I, u^B) + \mathrm{CL}(b^I, b^B)), \quad
          \mathrm{CL}(x, y) = -\frac{1}{n}\sum_k \log
          \frac{e^{\cos(x_k, y_k)/\tau}}{\sum_j e^{\cos(x_k, y_j)/\tau}}

over the distinct users and bundles of the batch (CrossCBR keeps repeated ids, which then act as
their own negatives),
with L2 weight decay and random edge dropout on all three graphs (the augmentation).

A **new bundle** of known items has no bundle-view node, so it is scored through its item view in
both terms: :math:`s(u, b_{new}) = \langle u^I + u^B, b^I_{new}\rangle` — the contrastive term
is what makes :math:`b^I \approx b^B` and the substitution sound. No retraining is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from kgrec.gnn.contract import Interactions, RecModel, TrainBatch
from kgrec.gnn.graph_ops import bipartite_adjacency, mean_pool_matrix, normalized_adjacency
from kgrec.gnn.models.kgcf_ops import SymSpMM
from kgrec.kg.errors import ModelError


@dataclass(frozen=True)
class BundleModelConfig:
    """Hyper-parameters (defaults: CrossCBR's published Youshu setting)."""

    dim: int = 64
    layers: int = 1
    temperature: float = 0.25
    cl_weight: float = 0.04
    edge_drop: float = 0.2
    seed: int = 42
    #: item view over users + items + bundles (user–item and bundle–item edges), so an item also
    #: hears from the bundles it belongs to; False = CrossCBR's user–item graph only
    item_view_bundles: bool = False


def check_side_graphs(
    num_users: int, num_bundles: int, num_items: int, user_items: Tensor, bundle_items: Tensor
) -> None:
    """ModelError when the user→item or bundle→item ``[2, E]`` edges hold ids outside the catalogue."""
    for name, edges, n_rows in (("user_items", user_items, num_users), ("bundle_items", bundle_items, num_bundles)):
        if edges.numel() and (int(edges[0].max()) >= n_rows or int(edges[1].max()) >= num_items):
            raise ModelError(
                f"{name} holds ids outside [0, {n_rows}) x [0, {num_items}): build the id maps over the whole catalogue"
            )


def _drop(edges: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    if ratio <= 0:
        return edges
    return edges[:, rng.random(edges.shape[1]) >= ratio]


class _PoolMM(torch.autograd.Function):
    """``M @ X`` for a constant sparse ``M`` whose transpose ``M^T`` is kept (built once per graph)."""

    @staticmethod
    def forward(ctx: Any, pool: Tensor, pool_t: Tensor, x: Tensor) -> Tensor:
        ctx.pool_t = pool_t
        return torch.sparse.mm(pool, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.pool_t, grad)


def info_nce(x: Tensor, y: Tensor, temperature: float) -> Tensor:
    """In-batch InfoNCE pulling ``x[k]`` to ``y[k]`` against every ``y[j]``."""
    x, y = F.normalize(x, dim=1), F.normalize(y, dim=1)
    logits = x @ y.T / temperature
    return F.cross_entropy(logits, torch.arange(x.size(0), device=x.device))


class CrossViewBundleModel(RecModel):
    """CrossCBR-style user→bundle model; implements :class:`gnn.contract.RecModel`.

    ``items`` of the contract are bundles. ``user_items`` ``[2, E]`` and ``bundle_items``
    ``[2, E]`` are fixed side graphs; ``fit`` receives the user–bundle training interactions.
    """

    name = "crosscbr"

    def __init__(
        self,
        num_users: int,
        num_bundles: int,
        num_items: int,
        user_items: Tensor,
        bundle_items: Tensor,
        config: BundleModelConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or BundleModelConfig()
        self.num_users, self.num_bundles, self.num_items = num_users, num_bundles, num_items
        check_side_graphs(num_users, num_bundles, num_items, user_items, bundle_items)
        generator = torch.Generator().manual_seed(self.config.seed)
        d = self.config.dim
        self.user_emb = torch.nn.Parameter(torch.empty(num_users, d))
        self.bundle_emb = torch.nn.Parameter(torch.empty(num_bundles, d))
        self.item_emb = torch.nn.Parameter(torch.empty(num_items, d))
        for p in (self.user_emb, self.bundle_emb, self.item_emb):
            torch.nn.init.xavier_normal_(p, generator=generator)
        self._ui = user_items.cpu().numpy()
        self._bi = bundle_items.cpu().numpy()
        self._ub = np.zeros((2, 0), dtype=np.int64)
        self._rng = np.random.default_rng(self.config.seed)
        self._graphs: dict[str, Tensor] = {}
        self._eval_graphs: dict[str, Tensor] = {}
        self._cache: tuple[Tensor, ...] | None = None

    # -- graphs -------------------------------------------------------------------------------
    def fit(self, train: Interactions) -> None:
        """Take the user–bundle training graph and build the propagation matrices."""
        if train.num_users != self.num_users or train.num_items != self.num_bundles:
            raise ModelError(
                f"training interactions are {train.num_users}x{train.num_items}, the "
                f"model is {self.num_users} users x {self.num_bundles} bundles"
            )
        self._ub = train.edge_index.cpu().numpy()
        self._eval_graphs = self._build(drop=0.0)
        self.begin_epoch()

    def _build(self, drop: float) -> dict[str, Tensor]:
        dev = self.user_emb.device
        ui, ub, bi = (_drop(e, drop, self._rng) for e in (self._ui, self._ub, self._bi))
        return {
            "ui": self._item_graph(ui, bi).to(dev),
            "ub": bipartite_adjacency(ub[0], ub[1], self.num_users, self.num_bundles).to(dev),
            "bi": (pool := mean_pool_matrix(bi[0], bi[1], self.num_bundles, self.num_items).to(dev)),
            "bi_t": pool.t().to_sparse_csr(),
        }

    def _item_graph(self, ui: np.ndarray, bi: np.ndarray) -> Tensor:
        """The item view's graph: users–items, plus items–bundles when ``item_view_bundles``."""
        if not self.config.item_view_bundles:
            return bipartite_adjacency(ui[0], ui[1], self.num_users, self.num_items)
        u, i = self.num_users, self.num_items
        src = np.concatenate([ui[0], bi[0] + u + i])  # users, then items, then bundles
        dst = np.concatenate([ui[1], bi[1]]) + u
        edges = torch.from_numpy(np.stack([np.concatenate([src, dst]), np.concatenate([dst, src])]))
        weight = torch.ones(edges.size(1))
        return normalized_adjacency(edges, u + i + self.num_bundles, weight, reduce="max")

    def begin_epoch(self) -> None:
        """Draw a fresh edge-dropout augmentation (the trainer calls this once per epoch)."""
        if not self._eval_graphs:
            raise ModelError("call fit(train) before training the bundle model")
        self._graphs = self._build(self.config.edge_drop) if self.config.edge_drop > 0 else self._eval_graphs
        self._cache = None

    # -- propagation --------------------------------------------------------------------------
    def _propagate(self, graph: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        features = torch.cat([a, b])
        total = features
        for layer in range(self.config.layers):
            features = SymSpMM.apply(graph, features) / (layer + 2)
            total = total + F.normalize(features, dim=1)
        return total[: a.size(0)], total[a.size(0) :]

    def views(self, training: bool | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``(u_item_view, item_item_view, b_item_view, u_bundle_view, b_bundle_view)``."""
        training = self.training if training is None else training
        if not self._eval_graphs:
            raise ModelError("call fit(train) before scoring with the bundle model")
        graphs = self._graphs if training else self._eval_graphs
        if self.config.item_view_bundles:
            u_i, rest = self._propagate(graphs["ui"], self.user_emb, torch.cat([self.item_emb, self.bundle_emb]))
            i_i = rest[: self.num_items]
        else:
            u_i, i_i = self._propagate(graphs["ui"], self.user_emb, self.item_emb)
        b_i = _PoolMM.apply(graphs["bi"], graphs["bi_t"], i_i)
        u_b, b_b = self._propagate(graphs["ub"], self.user_emb, self.bundle_emb)
        return u_i, i_i, b_i, u_b, b_b

    def _eval_views(self) -> tuple[Tensor, ...]:
        if self._cache is None or self.training:
            with torch.no_grad():
                self._cache = self.views(training=False)
        return self._cache

    def train(self, mode: bool = True) -> CrossViewBundleModel:
        self._cache = None
        return super().train(mode)

    # -- contract -----------------------------------------------------------------------------
    def loss(self, batch: TrainBatch) -> Tensor:
        u_i, _, b_i, u_b, b_b = self.views(training=True)
        users, pos = batch.users, batch.pos_items
        neg = batch.neg_items if batch.neg_items.dim() == 2 else batch.neg_items.unsqueeze(1)  # [B, n]
        ui, ubv = u_i[users], u_b[users]
        pos_s = (ui * b_i[pos]).sum(1) + (ubv * b_b[pos]).sum(1)
        neg_s = (ui.unsqueeze(1) * b_i[neg]).sum(-1) + (ubv.unsqueeze(1) * b_b[neg]).sum(-1)
        bpr = F.softplus(neg_s - pos_s.unsqueeze(1)).mean()
        # distinct ids only: a repeated id would be its own false negative (and costs O(n^2))
        users_u, bundles_u = torch.unique(users), torch.unique(torch.cat([pos, neg.reshape(-1)]))
        cl = 0.5 * (
            info_nce(u_i[users_u], u_b[users_u], self.config.temperature)
            + info_nce(b_i[bundles_u], b_b[bundles_u], self.config.temperature)
        )
        return bpr + self.config.cl_weight * cl

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        u_i, _, b_i, u_b, b_b = self._eval_views()
        return (u_i[users] * b_i[items]).sum(1) + (u_b[users] * b_b[items]).sum(1)

    def score_all(self, users: Tensor) -> Tensor:
        u_i, _, b_i, u_b, b_b = self._eval_views()
        return u_i[users] @ b_i.T + u_b[users] @ b_b.T

    def score_new_bundles(self, users: Tensor, bundles: Sequence[Sequence[int]]) -> Tensor:
        """``[len(users), len(bundles)]`` scores of unseen bundles given as lists of item ids."""
        u_i, i_i, _, u_b, _ = self._eval_views()
        reps = []
        for items in bundles:
            ids = torch.as_tensor(list(items), dtype=torch.long, device=i_i.device)
            if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= self.num_items:
                raise ModelError(f"a new bundle needs known item ids in [0, {self.num_items}), got {list(items)}")
            reps.append(i_i[ids].mean(0))
        b_new = torch.stack(reps)
        return (u_i[users] + u_b[users]) @ b_new.T

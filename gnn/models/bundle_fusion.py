r"""User→bundle scores fused from a trained bundle GNN and closed-form bundle–bundle terms.

**Bundle EASE** (``bundle_ease``) is EASE (Steck, WWW 2019) over the user–bundle training matrix
:math:`X \in \{0,1\}^{U \times B}`, told about items in two ways. With the bundle–item membership
:math:`M \in \{0,1\}^{B \times I}` and each user's *item profile over bundles*
:math:`Y_{ub} = \min(|I(u) \cap I(b)|, 3)` (how many of the bundle's items the user interacted
with, capped; rows L2-normalised to :math:`\hat Y`):

.. math:: G = X^\top X + a\,M M^\top + c\,\hat Y^\top \hat Y, \quad P = (G + \lambda I)^{-1}, \quad
          W = I - P\,\mathrm{diag}(1/\mathrm{diag}(P)), \quad s(u, \cdot) = (X_u + r\,\hat Y_u)\,W

so two bundles are similar when the same users took them, when they share items (``a``), or when
the same users' item histories overlap both (``c``); ``r`` feeds the user's item profile in as
input too. ``a = c = r = 0`` is plain EASE. Dense :math:`B \times B`: fine for Youshu's 4,771 bundles.

**Fusion** (``gnn`` in the Youshu benchmark) adds per-user standardised scores, so the weights do
not depend on each component's scale:

.. math:: s(u, b) = z_u(s_{\text{GNN}}) + w_e\,z_u(s_{\text{EASE}}) + w_p\,z(\log(1 + n_b))

with :math:`z_u(x) = (x - \mathrm{mean}_b\,x) / \mathrm{std}_b\,x` over all bundles for user
:math:`u`, and :math:`n_b` the bundle's training count. The weights are chosen on the validation
split by the caller (never on test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.gnn.contract import Interactions, RecModel
from kgrec.gnn.graph_ops import binary_matrix, interaction_matrix
from kgrec.gnn.models.bundle_gnn import check_side_graphs
from kgrec.kg.errors import ModelError

#: :math:`Y_{ub}` counts at most this many of the bundle's items.
PROFILE_CAP = 3.0


@dataclass(frozen=True)
class BundleEASEConfig:
    """``l2`` = :math:`\\lambda`, ``item_weight`` = :math:`a`, ``profile_weight`` = :math:`c`, ``profile_input`` = :math:`r`."""

    l2: float = 1000.0
    item_weight: float = 0.3
    profile_weight: float = 0.3
    profile_input: float = 0.0


def standardise(scores: Tensor) -> Tensor:
    """Per-row z-score (rows of constant scores become 0)."""
    mean = scores.mean(dim=1, keepdim=True)
    std = scores.std(dim=1, keepdim=True).clamp(min=1e-12)
    return (scores - mean) / std


class BundleEASE(RecModel):
    """EASE on user→bundle interactions, with shared items and item profiles in the bundle Gram matrix."""

    trainable = False
    name = "bundle_ease"

    def __init__(
        self,
        num_users: int,
        num_bundles: int,
        num_items: int,
        user_items: Tensor,
        bundle_items: Tensor,
        config: BundleEASEConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or BundleEASEConfig()
        check_side_graphs(num_users, num_bundles, num_items, user_items, bundle_items)
        ui, bi = user_items.long().cpu().numpy(), bundle_items.long().cpu().numpy()
        self.num_users, self.num_bundles = num_users, num_bundles
        self._members = binary_matrix(bi[0], bi[1], (num_bundles, num_items))
        overlap = (binary_matrix(ui[0], ui[1], (num_users, num_items)) @ self._members.T).tocsr()
        overlap.data = np.minimum(overlap.data, PROFILE_CAP)
        norms = np.sqrt(np.asarray(overlap.multiply(overlap).sum(axis=1)).ravel())
        self._profile = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ overlap).tocsr().astype(np.float32)
        self.weights = torch.zeros(0)
        self._w = np.zeros((0, 0), dtype=np.float32)
        self._x: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        if (train.num_users, train.num_items) != (self.num_users, self.num_bundles):
            raise ModelError(
                f"training interactions are {train.num_users}x{train.num_items}, "
                f"the model {self.num_users} users x {self.num_bundles} bundles"
            )
        self._x = interaction_matrix(train)
        gram = (self._x.T @ self._x).toarray().astype(np.float64)
        if self.config.item_weight:
            gram += self.config.item_weight * (self._members @ self._members.T).toarray()
        if self.config.profile_weight:
            gram += self.config.profile_weight * (self._profile.T @ self._profile).toarray()
        g = torch.from_numpy(gram)
        g.diagonal().add_(self.config.l2)
        p = torch.linalg.inv(g)
        w = -p / p.diagonal().unsqueeze(0)
        w.diagonal().zero_()
        self.weights = w.float()
        self._w = self.weights.numpy()

    def score_all(self, users: Tensor) -> Tensor:
        if self._x is None:
            raise ModelError("bundle_ease is not fitted; call fit(train) first")
        idx = users.cpu().numpy()
        rows = self._x[idx]
        if self.config.profile_input:
            rows = rows + self.config.profile_input * self._profile[idx]
        return torch.from_numpy(np.asarray(rows @ self._w, dtype=np.float32))  # sparse rows x dense W

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.score_all(users)[torch.arange(users.numel()), items.cpu()]


class FusedBundleModel(RecModel):
    """:math:`z_u(\\text{GNN}) + w_e z_u(\\text{EASE}) + w_p z(\\log(1+n_b))` over fitted parts."""

    trainable = False
    name = "bundle_fusion"

    def __init__(
        self, gnn: RecModel, ease: BundleEASE, train: Interactions, ease_weight: float, pop_weight: float
    ) -> None:
        super().__init__()
        self.gnn, self.ease = gnn, ease
        self.ease_weight, self.pop_weight = ease_weight, pop_weight
        log_pop = torch.log1p(torch.bincount(train.edge_index[1].cpu(), minlength=train.num_items).float())
        self.log_pop = (log_pop - log_pop.mean()) / log_pop.std().clamp(min=1e-12)

    def score_all(self, users: Tensor) -> Tensor:
        with torch.no_grad():
            out = standardise(self.gnn.score_all(users).float().cpu())
            if self.ease_weight:
                out = out + self.ease_weight * standardise(self.ease.score_all(users))
        return out + self.pop_weight * self.log_pop

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.score_all(users)[torch.arange(users.numel()), items.cpu()]

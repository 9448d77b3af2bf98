r"""RP3beta (Paudel et al., TiiS 2017; Dacrema et al., RecSys 2019) in the RecModel contract.

With :math:`X \in \{0,1\}^{U \times I}` the binarised training interactions,
:math:`P_{ui} = X / \mathrm{rowsum}(X)` (user→item) and :math:`P_{iu} = X^\top / \mathrm{rowsum}(X^\top)`
(item→user) the one-step transition probabilities, the item-item weights of the three-step walk
item → user → item are raised to :math:`\alpha` (elementwise, as in Dacrema et al.'s reference
code) and divided by the target's popularity :math:`n_j^\beta`:

.. math::
    W_{ij} = \frac{\big(P_{iu}^{\,\alpha}\, P_{ui}^{\,\alpha}\big)_{ij}}{n_j^{\beta}}, \qquad W_{ii} = 0,

keeping for each source item :math:`i` its ``top_k`` largest weights (computed ``chunk`` source items at
a time, so memory stays at a ``[chunk, I]`` block); :math:`s(u, \cdot) = X_u W`.
:math:`\alpha = 1, \beta = 0` is plain P3 (a random walk of length 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.gnn.contract import Interactions, RecModel
from kgrec.kg.errors import ModelError


@dataclass(frozen=True)
class RP3betaConfig:
    alpha: float = 1.0
    beta: float = 0.5
    top_k: int = 200


class RP3beta(RecModel):
    """Graph-walk item-item baseline with popularity penalty ``beta`` (sparse top-``k`` weights)."""

    name = "rp3beta"
    trainable = False

    def __init__(self, config: RP3betaConfig | None = None, chunk: int = 2048) -> None:
        super().__init__()
        self.config = config or RP3betaConfig()
        self.alpha, self.beta, self.top_k = self.config.alpha, self.config.beta, self.config.top_k
        self.chunk = chunk
        self._x: sp.csr_matrix | None = None
        self.sim: sp.csr_matrix | None = None

    def fit(self, train: Interactions) -> None:
        u, i = train.edge_index.long().cpu().numpy()
        x = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(train.num_users, train.num_items))
        x.data[:] = 1.0  # binarise repeated pairs
        self._x = x
        user_deg = np.asarray(x.sum(axis=1)).ravel()
        item_deg = np.asarray(x.sum(axis=0)).ravel()
        p_ui = (sp.diags(1.0 / np.maximum(user_deg, 1.0)) @ x).tocsr()
        p_iu = (sp.diags(1.0 / np.maximum(item_deg, 1.0)) @ x.T).tocsr()
        if self.alpha != 1.0:
            p_ui, p_iu = p_ui.power(self.alpha), p_iu.power(self.alpha)
        pop = torch.from_numpy(np.power(np.maximum(item_deg, 1.0), self.beta).astype(np.float32))
        n_items = x.shape[1]
        k = min(self.top_k, max(n_items - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.chunk):  # a [chunk, I] dense block at a time, never [I, I]
            stop = min(start + self.chunk, n_items)
            w = torch.from_numpy((p_iu[start:stop] @ p_ui).toarray().astype(np.float32, copy=False))
            w /= pop
            w[torch.arange(stop - start), torch.arange(start, stop)] = 0.0
            top = w.topk(k, dim=1)
            keep = top.values > 0
            rows.append((torch.arange(start, stop).unsqueeze(1).expand(-1, k))[keep].numpy())
            cols.append(top.indices[keep].numpy())
            vals.append(top.values[keep].numpy())
        self.sim = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
        )

    def score_all(self, users: Tensor) -> Tensor:
        x, sim = self._x, self.sim
        if x is None or sim is None:
            raise ModelError("RP3beta is not fitted; call fit(train) first")
        return torch.from_numpy((x[users.cpu().numpy()] @ sim).toarray()).to(users.device)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        full = self.score_all(users)
        return full[torch.arange(users.numel(), device=full.device), items.to(full.device)]

r"""LightGCN (He et al., SIGIR 2020) in the :class:`~kgrec.gnn.contract.RecModel` contract.

Wraps PyG's :class:`torch_geometric.nn.models.LightGCN` over the bipartite graph of users
(ids ``0..U-1``) and items (ids ``U..U+I-1``). With the symmetric normalised adjacency
:math:`\hat A = D^{-1/2} A D^{-1/2}` (``gnn.graph_ops.bipartite_adjacency``, built once in ``fit`` as a sparse CSR matrix, so
propagation is one sparse-dense product per layer, forward and backward, ``kgcf_ops.SymSpMM``):

.. math::
    \mathbf{E}^{(l+1)} = \hat A \mathbf{E}^{(l)}, \qquad
    \mathbf{E} = \sum_{l=0}^{L} \alpha_l \mathbf{E}^{(l)}, \quad \alpha_l = \frac{1}{L+1},
    \qquad s(u, i) = \mathbf{e}_u^\top \mathbf{e}_i

Trained with BPR and :math:`L_2` on the layer-0 embeddings of the batch (PyG's
``recommendation_loss``):

.. math::
    \mathcal{L} = -\frac{1}{B}\sum_{(u,i,j)} \ln\sigma(s(u,i) - s(u,j))
      + \frac{\lambda}{B} \lVert \mathbf{E}^{(0)}_{u,i,j} \rVert^2

In eval mode the propagated embeddings are computed once and cached until the next
``train()`` / ``loss`` call, so ``score_all`` is a matmul.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.models import LightGCN

from kgrec.gnn.contract import Interactions, RecModel, TrainBatch
from kgrec.gnn.graph_ops import bipartite_adjacency
from kgrec.gnn.models.kgcf_ops import SymSpMM
from kgrec.kg.errors import ModelError


@dataclass(frozen=True)
class LightGCNConfig:
    """Architecture and regularisation (saved in checkpoints)."""

    embedding_dim: int = 64
    num_layers: int = 3
    lambda_reg: float = 1e-4


class LightGCNRec(RecModel):
    """LightGCN with BPR loss; call ``fit(train)`` before training or scoring."""

    name = "lightgcn"

    def __init__(self, num_users: int, num_items: int, config: LightGCNConfig | None = None) -> None:
        super().__init__()
        self.config = config or LightGCNConfig()
        self.num_users, self.num_items = num_users, num_items
        self.gcn = LightGCN(num_users + num_items, self.config.embedding_dim, self.config.num_layers, normalize=False)
        torch.nn.init.normal_(self.gcn.embedding.weight, std=0.1)
        self._adj: Tensor | None = None
        self._cache: Tensor | None = None

    def fit(self, train: Interactions) -> None:
        if (train.num_users, train.num_items) != (self.num_users, self.num_items):
            raise ModelError(
                f"LightGCN was built for {self.num_users} users x {self.num_items} "
                f"items but the interactions have {train.num_users} x "
                f"{train.num_items}; build the model from the same split"
            )
        users, items = train.edge_index
        self._adj = bipartite_adjacency(users, items, self.num_users, self.num_items)
        self._cache = None

    def dims(self) -> dict[str, Any]:
        """The sizes a checkpoint needs to rebuild this model (with its config)."""
        return {"num_users": self.num_users, "num_items": self.num_items}

    def train(self, mode: bool = True) -> LightGCNRec:
        self._cache = None
        return super().train(mode)

    def embeddings(self) -> Tensor:
        """Propagated embeddings of all nodes (users first); cached in eval mode."""
        if self._adj is None:
            raise ModelError("LightGCN has no graph yet; call fit(train_interactions) first")
        if self._cache is not None and not self.training:
            return self._cache
        weight = self.gcn.embedding.weight
        if self._adj.device != weight.device:
            self._adj = self._adj.to(weight.device)
        # PyG's get_embedding, with the symmetric SpMM of KGCF: Â^T = Â, so the backward is one more
        # CSR product instead of a sparse transpose per layer and step
        x = weight
        out = x * self.gcn.alpha[0]
        for layer in range(self.config.num_layers):
            x = SymSpMM.apply(self._adj, x)
            out = out + x * self.gcn.alpha[layer + 1]
        if not self.training:
            self._cache = out.detach()
        return out

    def loss(self, batch: TrainBatch) -> Tensor:
        """BPR over every (user, positive, negative) triple + L2 of their layer-0 rows (PyG's ``recommendation_loss``).

        Vectorised for ``n`` negatives per positive (``neg_items`` ``[B, n]``): the user and positive rows
        are gathered once and scored against the ``n`` negatives with one batched product (no ``n``-fold
        repeat of the batch), and the L2 term counts each user / positive row ``n`` times, as PyG's
        ``emb[node_id].norm()**2 / (B n)`` over the repeated triples does.
        """
        self._cache = None
        emb = self.embeddings()
        users, pos = batch.users, batch.pos_items + self.num_users
        neg = (batch.neg_items if batch.neg_items.dim() == 2 else batch.neg_items.unsqueeze(1)) + self.num_users
        n = neg.size(1)
        e_u = emb.index_select(0, users)
        pos_rank = (e_u * emb.index_select(0, pos)).sum(-1)  # [B]
        neg_rank = torch.bmm(emb.index_select(0, neg.reshape(-1)).view(*neg.shape, -1), e_u.unsqueeze(2)).squeeze(2)
        bpr = -F.logsigmoid(pos_rank.unsqueeze(1) - neg_rank).mean()
        lam = self.config.lambda_reg
        if lam == 0:
            return bpr
        e0 = self.gcn.embedding.weight
        sq = n * (e0.index_select(0, users).pow(2).sum() + e0.index_select(0, pos).pow(2).sum())
        sq = sq + e0.index_select(0, neg.reshape(-1)).pow(2).sum()
        return bpr + lam * sq / neg.numel()

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        emb = self.embeddings()
        return (emb[users] * emb[items + self.num_users]).sum(-1)

    def score_all(self, users: Tensor) -> Tensor:
        emb = self.embeddings()
        return emb[users] @ emb[self.num_users :].t()

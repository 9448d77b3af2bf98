r"""LightGCN (He et al., SIGIR 2020) in the :class:`~kgrec.gnn.contract.RecModel` contract.

Wraps PyG's :class:`torch_geometric.nn.models.LightGCN` over the bipartite graph of users
(ids ``0..U-1``) and items (ids ``U..U+I-1``). With the symmetric normalised adjacency
:math:`\hat A = D^{-1/2} A D^{-1/2}` (built once in ``fit`` as a sparse CSR matrix, so
propagation is one sparse-dense product per layer):

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

import warnings

import torch
from torch import Tensor
from torch_geometric.nn.models import LightGCN

from kgrec.gnn.contract import Interactions, RecModel, TrainBatch
from kgrec.kg.errors import ModelError


def normalized_adjacency(train: Interactions) -> Tensor:
    """Symmetric normalised user-item adjacency ``[U+I, U+I]`` as a float32 sparse CSR tensor."""
    u, i = train.edge_index.long().cpu()
    n = train.num_users + train.num_items
    key = torch.unique(u * train.num_items + i)  # binarise repeated interactions
    u, i = key // train.num_items, key % train.num_items + train.num_users
    row, col = torch.cat([u, i]), torch.cat([i, u])
    deg = torch.bincount(row, minlength=n).float()
    dinv = deg.pow(-0.5)
    dinv[torch.isinf(dinv)] = 0.0
    val = dinv[row] * dinv[col]
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        coo = torch.sparse_coo_tensor(torch.stack([row, col]), val, (n, n), check_invariants=False)
        return coo.coalesce().to_sparse_csr()


class LightGCNRec(RecModel):
    """LightGCN with BPR loss; call ``fit(train)`` before training or scoring."""

    name = "lightgcn"

    def __init__(
        self, num_users: int, num_items: int, embedding_dim: int = 64, num_layers: int = 3, lambda_reg: float = 1e-4
    ) -> None:
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.lambda_reg = lambda_reg
        self.gcn = LightGCN(num_users + num_items, embedding_dim, num_layers, normalize=False)
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
        self._adj = normalized_adjacency(train)
        self._cache = None

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
        out = self.gcn.get_embedding(self._adj)
        if not self.training:
            self._cache = out.detach()
        return out

    def loss(self, batch: TrainBatch) -> Tensor:
        self._cache = None
        emb = self.embeddings()
        users, pos, neg = batch.users, batch.pos_items, batch.neg_items
        if neg.dim() == 2:  # several negatives per positive: one BPR term each
            users = users.repeat_interleave(neg.size(1))
            pos = pos.repeat_interleave(neg.size(1))
            neg = neg.reshape(-1)
        pos_i, neg_i = pos + self.num_users, neg + self.num_users
        e_u = emb[users]
        pos_rank = (e_u * emb[pos_i]).sum(-1)
        neg_rank = (e_u * emb[neg_i]).sum(-1)
        node_id = torch.cat([users, pos_i, neg_i])
        return self.gcn.recommendation_loss(pos_rank, neg_rank, node_id=node_id, lambda_reg=self.lambda_reg)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        emb = self.embeddings()
        return (emb[users] * emb[items + self.num_users]).sum(-1)

    def score_all(self, users: Tensor) -> Tensor:
        emb = self.embeddings()
        return emb[users] @ emb[self.num_users :].t()

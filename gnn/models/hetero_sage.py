r"""Heterogeneous GraphSAGE over the knowledge graph, with a user→product and a co-purchase head.

Inputs per node type :math:`t` (``id_index`` = row of the learnable table, ``-1`` = unseen):

.. math::
    \mathbf{h}^{(0)}_p = \mathbf{W}_{txt}\,\mathbf{x}_p\,[p \text{ has text}] + \mathbf{e}_p\,[p \text{ seen}],
    \qquad \mathbf{h}^{(0)}_v = \mathbf{e}_v\,[v \text{ seen}] \quad (v \notin \text{products})

so a product never seen in training is still represented by its text and, after message passing,
by its neighbours (category, brand, attributes, buyers). During training the id embedding of a
product is dropped with probability ``id_dropout`` so the text path learns to stand alone.
Each layer sums one SAGEConv per relation :math:`r = (s \to t)`:

.. math::
    \mathbf{h}^{(l+1)}_t = \mathrm{LN}_{l<L-1}\Big(\mathbf{h}^{(l)}_t + \mathrm{drop}\,\sigma\Big(
        \sum_{r:\,s \to t} \mathbf{W}^{(l)}_{r,1}\mathbf{h}^{(l)}_t
        + \mathbf{W}^{(l)}_{r,2}\,\mathrm{mean}_{u \in \mathcal{N}_r(t)} \mathbf{h}^{(l)}_u\Big)\Big)

Heads: :math:`s(u, p) = \mathbf{z}_u^\top \mathbf{z}_p + \mathbf{w}_b^\top \mathbf{z}_p` (user→product,
with a feature-based item bias) and
:math:`c(p, q) = (\mathbf{W}_c\mathbf{z}_p)^\top(\mathbf{W}_c\mathbf{z}_q)` (co-purchase). The
loss is BPR (or BCE) on user triples plus ``copurchase_weight`` times the same loss on training
co-purchase pairs with uniform negatives:

.. math::
    \mathcal{L} = -\frac{1}{B}\sum_{(u,i,j)} \ln\sigma(s(u,i) - s(u,j))
      - \frac{\lambda_c}{B}\sum_{(p,q,q')} \ln\sigma(c(p,q) - c(p,q'))

Embeddings are computed once per loss call (full batch) and cached in eval mode.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.utils import to_torch_csr_tensor

from kgrec.gnn.contract import Interactions, RecModel, TrainBatch
from kgrec.kg.errors import ModelError

EdgeType = tuple[str, str, str]
CO_PURCHASED: EdgeType = ("product", "co_purchased", "product")


@dataclass(frozen=True)
class HeteroSAGEConfig:
    """Architecture and loss knobs (saved in checkpoints)."""

    hidden: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    id_dropout: float = 0.1
    aggr: str = "mean"
    loss: Literal["bpr", "bce"] = "bpr"
    copurchase_weight: float = 0.5


def pair_loss(pos: Tensor, neg: Tensor, kind: str = "bpr") -> Tensor:
    """BPR ``-ln σ(pos - neg)`` or BCE (pos → 1, neg → 0); ``neg`` is ``[B]`` or ``[B, n]``."""
    if neg.dim() == 2:
        pos = pos.unsqueeze(1).expand_as(neg)
    if kind == "bpr":
        return -F.logsigmoid(pos - neg).mean()
    if kind == "bce":
        return 0.5 * (
            F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
        )
    raise ModelError(f"unknown loss {kind!r}: use 'bpr' or 'bce'")


class HeteroSAGE(RecModel):
    """The knowledge-graph GNN; ``attach(data)`` gives it the message-passing graph."""

    name = "hetero_sage"

    def __init__(
        self,
        metadata: tuple[list[str], list[EdgeType]] | list[Any],
        num_nodes: dict[str, int],
        text_dim: int,
        config: HeteroSAGEConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config or HeteroSAGEConfig()
        self.node_types = list(metadata[0])
        self.edge_types = [tuple(et) for et in metadata[1]]
        self.num_nodes = {t: int(num_nodes[t]) for t in self.node_types}
        self.text_dim = int(text_dim)
        hidden = self.config.hidden
        id_emb = {t: nn.Embedding(max(n, 1), hidden) for t, n in self.num_nodes.items()}
        for emb in id_emb.values():
            nn.init.normal_(emb.weight, std=0.1)
        self.id_emb = nn.ModuleDict(id_emb)
        self.text_proj = nn.Linear(self.text_dim, hidden) if self.text_dim else None
        self.convs = nn.ModuleList(
            HeteroConv(
                {et: SAGEConv((hidden, hidden), hidden, aggr=self.config.aggr) for et in self.edge_types}, aggr="sum"
            )
            for _ in range(self.config.num_layers)
        )
        self.norms = nn.ModuleList(
            nn.ModuleDict({t: nn.LayerNorm(hidden) for t in self.node_types}) for _ in range(self.config.num_layers - 1)
        )
        self.item_bias = nn.Linear(hidden, 1)  # popularity-like prior, computed from features (cold items too)
        self.copurchase = nn.Linear(hidden, hidden, bias=False)
        self._data: HeteroData | None = None
        self._cache: dict[str, Tensor] | None = None
        self._adj: dict[EdgeType, Tensor] | None = None

    # -- graph ------------------------------------------------------------------------------------
    def attach(self, data: HeteroData) -> HeteroSAGE:
        """Use ``data`` (same node/edge types as at construction) for message passing."""
        missing = [et for et in self.edge_types if et not in data.edge_types]
        if missing or set(self.node_types) - set(data.node_types):
            raise ModelError(
                f"the graph lacks relations the model was built with: {missing}; build it "
                "with gnn.data.build_hetero_data(..., metadata=model metadata)"
            )
        self._data = data
        self._cache = None
        self._adj = None
        return self

    def _adjacency(self) -> dict[EdgeType, Tensor]:
        """Per relation the transposed adjacency ``[num_dst, num_src]`` as sparse CSR (fast spmm on CPU)."""
        data = self.data
        if self._adj is None or next(iter(self._adj.values())).device != data["product"].id_index.device:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
                self._adj = {
                    et: to_torch_csr_tensor(
                        data[et].edge_index.flip(0), size=(data[et[2]].num_nodes, data[et[0]].num_nodes)
                    )
                    for et in self.edge_types
                }
        return self._adj

    @property
    def data(self) -> HeteroData:
        """The attached graph, moved to the parameters' device on first use after ``to()``."""
        if self._data is None:
            raise ModelError("HeteroSAGE has no graph: call model.attach(hetero_data) first")
        device = self.copurchase.weight.device
        if self._data["product"].id_index.device != device:
            self._data = self._data.to(device)
        return self._data

    def fit(self, train: Interactions) -> None:
        """Nothing to fit: the training graph comes with ``attach``."""

    def train(self, mode: bool = True) -> HeteroSAGE:
        self._cache = None
        return super().train(mode)

    @property
    def num_items(self) -> int:
        return int(self.data["product"].num_nodes)

    # -- encoder ----------------------------------------------------------------------------------
    def _inputs(self) -> dict[str, Tensor]:
        data = self.data
        h: dict[str, Tensor] = {}
        for t in self.node_types:
            idx = data[t].id_index
            known = (idx >= 0).float().unsqueeze(1)
            if t == "product" and self.training and self.config.id_dropout > 0:
                known = known * (torch.rand_like(known) >= self.config.id_dropout).float()
            h[t] = self.id_emb[t](idx.clamp(min=0)) * known
        if self.text_proj is not None:
            x, mask = data["product"].x.float(), data["product"].x_mask.float().unsqueeze(1)
            h["product"] = h["product"] + self.text_proj(x) * mask
        return h

    def forward(self) -> dict[str, Tensor]:
        """Final embeddings of every node type."""
        h = self._inputs()
        edge_index = self._adjacency()
        for layer, conv in enumerate(self.convs):
            out = conv(h, edge_index)
            last = layer == len(self.convs) - 1
            new = {}
            for t, x in h.items():
                if t in out:
                    msg = out[t] if last else F.relu(out[t])
                    x = x + F.dropout(msg, self.config.dropout, self.training)
                new[t] = x if last else self._norm(layer, t)(x)  # no norm on the output: norms carry popularity
            h = new
        scale = self.config.hidden**-0.25  # dot products of order 1 at initialisation
        return {t: x * scale for t, x in h.items()}

    def _norm(self, layer: int, node_type: str) -> nn.Module:
        norms = self.norms[layer]
        assert isinstance(norms, nn.ModuleDict)
        return norms[node_type]

    def embeddings(self) -> dict[str, Tensor]:
        """``forward()``, cached while in eval mode."""
        if self.training:
            return self.forward()
        if self._cache is None:
            with torch.no_grad():
                self._cache = self.forward()
        return self._cache

    # -- contract ---------------------------------------------------------------------------------
    def loss(self, batch: TrainBatch) -> Tensor:
        z = self.embeddings()
        bias = self.item_bias(z["product"]).squeeze(-1)
        zu, zp, zn = z["user"][batch.users], z["product"][batch.pos_items], z["product"][batch.neg_items]
        pos = (zu * zp).sum(-1) + bias[batch.pos_items]
        neg = ((zu.unsqueeze(1) * zn).sum(-1) if zn.dim() == 3 else (zu * zn).sum(-1)) + bias[batch.neg_items]
        loss = pair_loss(pos, neg, self.config.loss)
        cp = self.data[CO_PURCHASED].edge_index if CO_PURCHASED in self.edge_types else None
        if self.config.copurchase_weight > 0 and cp is not None and cp.size(1) > 0:
            pick = torch.randint(cp.size(1), (batch.users.numel(),), device=cp.device)
            a, b = cp[0, pick], cp[1, pick]
            c = self.copurchase(z["product"])
            neg_items = torch.randint(c.size(0), (pick.numel(),), device=cp.device)
            cpos, cneg = (c[a] * c[b]).sum(-1), (c[a] * c[neg_items]).sum(-1)
            loss = loss + self.config.copurchase_weight * pair_loss(cpos, cneg, self.config.loss)
        return loss

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        z = self.embeddings()
        return (z["user"][users] * z["product"][items]).sum(-1) + self.item_bias(z["product"][items]).squeeze(-1)

    def score_all(self, users: Tensor) -> Tensor:
        z = self.embeddings()
        return z["user"][users] @ z["product"].t() + self.item_bias(z["product"]).view(1, -1)

    def score_products(self, anchor_items: Tensor, candidate_items: Tensor | None = None) -> Tensor:
        """Co-purchase scores ``[len(anchor), len(candidates)]`` (all products when ``None``)."""
        c = self.copurchase(self.embeddings()["product"])
        cand = c if candidate_items is None else c[candidate_items]
        return c[anchor_items] @ cand.t()

    def score_basket(self, items: Tensor) -> Tensor:
        """``[num_items]`` scores for a session/basket of products (cold-start users)."""
        if items.numel() == 0:
            raise ModelError("an empty basket cannot be scored: pass at least one known product")
        return self.score_products(items).mean(0)

    def dims(self) -> dict[str, Any]:
        """The sizes a checkpoint needs to rebuild this model with its config (plain JSON-able data)."""
        return {
            "metadata": [list(self.node_types), [list(et) for et in self.edge_types]],
            "num_nodes": dict(self.num_nodes),
            "text_dim": self.text_dim,
        }

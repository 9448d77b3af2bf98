r"""KGCF: LightGCN propagation over the whole knowledge graph, text inputs, XSimGCL, EASE fusion.

**Graph.** Users, products and every catalogue node (categories, attributes, brands, bundles)
are the nodes of ONE homogeneous graph, ordered ``[users | products | other types]``. Its edges
are the training purchases (weight 1, rebuilt by ``fit(train)``) and the knowledge-graph
relations attached with :meth:`KGCF.from_data` (weight ``kg_weight``; co-purchase edges of the
training orders with ``copurchase_weight``), symmetrised. With the weighted degrees
:math:`D = \mathrm{diag}(A\mathbf{1})`, propagation uses

.. math::
    \hat A = D^{-1/2} A D^{-1/2}, \qquad \mathbf{E}^{(l+1)} = \hat A\,\mathbf{E}^{(l)}
    \;(+\,\epsilon\,\mathrm{sign}(\mathbf{E}^{(l+1)}) \odot \bar\Delta \text{ in training, XSimGCL}),
    \qquad \mathbf{E} = \frac{1}{L}\sum_{l=1}^{L} \mathbf{E}^{(l)} \text{ (plus } \mathbf{E}^{(0)}
    \text{ if ``include_input``)}

(one ``torch.sparse.mm`` per layer). Inputs: a learnable id vector per node; products add a
linear projection of their MiniLM text vector, :math:`\mathbf{E}^{(0)}_p = \mathbf{e}_p
[\text{kept}] + \mathbf{W}\mathbf{x}_p`, with the id part dropped with probability
``id_dropout`` in training, so a product never bought is scored by its text and its catalogue
neighbours. :math:`s_{gnn}(u, i) = \mathbf{E}_u^\top \mathbf{E}_i`.

**Loss** (per batch; the uniform negatives :math:`N` come from the trainer, ``[B, n]``): sampled
softmax with temperature :math:`\tau` over the positive, the hardest ``hard_keep`` of the ``n``
negatives (all when 0) and optionally the other positives of the batch; plus the XSimGCL
InfoNCE between the final and the ``cl_layer``-th perturbed embeddings of the batch's users and
items, and :math:`L_2` on the batch's input embeddings:

.. math::
    \mathcal{L} = -\frac{1}{B}\sum_{(u,i)} \log \frac{e^{s(u,i)/\tau}}{e^{s(u,i)/\tau}
      + \sum_{j \in N_u} e^{s(u,j)/\tau}}
      + \lambda_{cl}\,\mathrm{InfoNCE}_{\tau_{cl}}(\mathbf{E}, \mathbf{E}^{(l^*)})
      + \frac{\lambda}{B}\lVert \mathbf{E}^{(0)}_{batch} \rVert^2

**Served score.** With ``fuse_weight`` :math:`w > 0` an EASE model (:math:`\lambda` = ``ease_l2``) is
fitted on the same interactions; with ``trend_weight`` :math:`w_t > 0` a per-product trend
:math:`t_i` given at construction (:func:`recent_buyers`: log distinct buyers in the last 14 days
of the training orders) is added. With :math:`z(\cdot)` the z-score over the items:

.. math::
    s(u, i) = g\,z(s_{gnn}(u, \cdot))_i + w\,z(s_{ease}(u, \cdot))_i + w_t\,z(t)_i

(:math:`g` = ``gnn_weight``; :math:`w = w_t = 0, g = 1`: the GNN alone; :math:`g = 0`: EASE + trend).
``objective="full"``: softmax over every product. Propagated embeddings are cached in eval mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData

from kgrec.gnn.contract import Interactions, RecModel, TrainBatch
from kgrec.gnn.models.baselines import ease_matrix, sparse_rows
from kgrec.gnn.models.kgcf_ops import SymSpMM, info_nce, subsample, sym_norm_adjacency
from kgrec.kg.errors import ModelError
from kgrec.kg.export import OrderRows

EdgeType = tuple[str, str, str]
BUYS: EdgeType = ("user", "buys", "product")
CO_PURCHASED: EdgeType = ("product", "co_purchased", "product")
CATALOGUE = ("in_category", "child_of", "made_by", "has_attribute", "includes", "interacted_with")


@dataclass(frozen=True)
class KGCFConfig:
    """Architecture, loss and fusion knobs; defaults = the configuration selected on Online Retail."""

    dim: int = 64
    num_layers: int = 2
    include_input: bool = False  # average E^(0) with the propagated layers
    use_text: bool = True
    relations: tuple[str, ...] = CATALOGUE  # knowledge-graph relations in the graph; () = id-only
    kg_weight: float = 1.0
    copurchase_weight: float = 0.0  # 0 = co-purchase edges left out
    id_dropout: float = 0.1
    objective: Literal["softmax", "full", "bpr"] = "full"
    tau: float = 0.1
    hard_keep: int = 0
    warm_negatives: bool = False  # softmax/negatives only over products bought in training
    in_batch: bool = False
    cl_weight: float = 0.05
    cl_eps: float = 0.1
    cl_tau: float = 0.2
    cl_layer: int = 1
    cl_nodes: int = 1024  # at most this many batch users (and items) in each InfoNCE
    reg: float = 1e-4
    fuse_weight: float = 0.5  # selected on validation (grid 0-2); 0 = GNN alone
    ease_l2: float = 200.0  # EASE's best lambda on validation
    trend_weight: float = 2.2  # (grid 0-2.2) weight of the z-scored product trend (recent buyers) in the served score
    gnn_weight: float = 1.0  # 0 = the fused EASE + trend part alone (for ablations)

    def __post_init__(self) -> None:  # a checkpoint's JSON gives relations back as a list
        object.__setattr__(self, "relations", tuple(self.relations))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ease_weights(train: Interactions, l2: float) -> tuple[sp.csr_matrix, Tensor]:
    r"""EASE (Steck 2019): binarised :math:`X`, :math:`P = (X^\top X + \lambda I)^{-1}`, :math:`B = -P / \mathrm{diag}(P)`, :math:`B_{ii} = 0`."""
    u, i = train.edge_index.long().cpu().numpy()
    x = sp.csr_matrix((np.ones(len(u), np.float32), (u, i)), shape=(train.num_users, train.num_items))
    x.data[:] = 1.0
    return x, ease_matrix(x, l2)  # float32 Cholesky: same B, half the flops and memory of a float64 inverse


def row_z(scores: Tensor) -> Tensor:
    """Per-row z-score (mean 0, std 1 over the items)."""
    return row_z_(scores.clone())


def row_z_(scores: Tensor) -> Tensor:
    """:func:`row_z` in place. A page of 1,024 customers x 24,915 products is 100 MB: no temporary
    of that size is made, and the spread is a vector norm of the centred rows (two fast passes;
    ``torch.std_mean`` took longer than the sparse EASE product on Amazon-Book)."""
    scores.sub_(scores.mean(1, keepdim=True))
    spread = torch.linalg.vector_norm(scores, dim=1, keepdim=True) / max(scores.size(1) - 1, 1) ** 0.5
    return scores.div_(spread.clamp_min(1e-8))


class KGCF(RecModel):
    """Knowledge-graph LightGCN; build with :meth:`from_data`, then ``fit(train)``, train, score."""

    name = "kgcf"
    kg_edges: Tensor
    kg_weights: Tensor
    trend: Tensor
    text: Tensor

    def __init__(
        self,
        num_users: int,
        num_items: int,
        kg_edges: Tensor | None = None,
        kg_weights: Tensor | None = None,
        num_nodes: int | None = None,
        text: Tensor | None = None,
        config: KGCFConfig | None = None,
        trend: Tensor | None = None,
        num_kg_edges: int = 0,
        text_dim: int = 0,
    ) -> None:
        """``kg_edges``: ``[2, E]`` non-purchase edges in the homogeneous node numbering; ``trend``: a
        per-product recency score (e.g. :func:`recent_buyers`) used when ``trend_weight > 0``.

        Without tensors, ``num_kg_edges`` and ``text_dim`` (from :meth:`dims`) make placeholders of
        the right shapes, so a checkpoint's state dict restores the graph, text and trend."""
        super().__init__()
        self.config = config or KGCFConfig()
        self.num_users, self.num_items = num_users, num_items
        self.num_nodes = num_nodes or num_users + num_items
        if kg_edges is None:
            kg_edges, kg_weights = torch.zeros(2, num_kg_edges, dtype=torch.long), torch.ones(num_kg_edges)
        text = torch.zeros(num_items, text_dim) if text is None and text_dim > 0 else text
        if text is not None and text.dim() == 2 and text.shape[1] == 0:
            text = None  # no product has a text vector yet (`kgrec embed` not run): ids and graph only
        if kg_edges.numel() and int(kg_edges.max()) >= self.num_nodes:
            raise ModelError(f"a knowledge-graph edge points past the {self.num_nodes} nodes")
        self.register_buffer("kg_edges", kg_edges.long())
        self.register_buffer("kg_weights", kg_weights if kg_weights is not None else torch.ones(kg_edges.size(1)))
        self.register_buffer("trend", trend.float() if trend is not None else torch.zeros(num_items))
        self.embedding = nn.Embedding(self.num_nodes, self.config.dim)
        nn.init.normal_(self.embedding.weight, std=0.1)
        self.text_proj: nn.Linear | None = None
        if text is not None and self.config.use_text:
            if text.shape[0] != num_items:
                raise ModelError(f"{text.shape[0]} text vectors for {num_items} products")
            self.register_buffer("text", text.float())
            self.text_proj = nn.Linear(text.shape[1], self.config.dim, bias=False)
            nn.init.normal_(self.text_proj.weight, std=0.1 / text.shape[1] ** 0.5)
        self._adj: Tensor | None = None
        self._cache: Tensor | None = None
        self.ease: tuple[sp.csr_matrix, Tensor] | None = None  # (X, B) of the fused EASE
        self.warm = torch.ones(num_items, dtype=torch.bool)
        self._train: Interactions | None = None

    @classmethod
    def from_data(cls, data: HeteroData, config: KGCFConfig | None = None, trend: Tensor | None = None) -> KGCF:
        """The model over a :func:`gnn.data.build_hetero_data` graph (its buys edges are ignored)."""
        config = config or KGCFConfig()
        types = ["user", "product", *sorted(t for t in data.node_types if t not in ("user", "product"))]
        offset, total = {}, 0
        for t in types:
            offset[t], total = total, total + int(data[t].num_nodes)
        parts, weights = [], []
        for src, rel, dst in data.edge_types:
            ei = data[(src, rel, dst)].edge_index
            kg = rel in config.relations and not rel.startswith("rev_")
            w = config.copurchase_weight if (src, rel, dst) == CO_PURCHASED else config.kg_weight if kg else 0.0
            if w > 0 and ei.numel():
                parts.append(torch.stack([ei[0] + offset[src], ei[1] + offset[dst]]))
                weights.append(torch.full((ei.size(1),), float(w)))
        edges = torch.cat(parts, 1) if parts else torch.zeros(2, 0, dtype=torch.long)
        kw = torch.cat(weights) if weights else torch.zeros(0)
        prod = data["product"]
        text = prod.x * prod.x_mask.unsqueeze(1).float() if "x" in prod else None
        return cls(data["user"].num_nodes, prod.num_nodes, edges, kw, total, text, config, trend)

    def dims(self) -> dict[str, int]:
        """Plain sizes that rebuild this model with :func:`gnn.registry.build_model` (then load the state dict)."""
        text_dim = int(self.text.shape[1]) if self.text_proj is not None else 0
        sizes = (self.num_users, self.num_items, self.num_nodes, int(self.kg_edges.size(1)), text_dim)
        return dict(zip(("num_users", "num_items", "num_nodes", "num_kg_edges", "text_dim"), sizes, strict=True))

    def fit(self, train: Interactions) -> None:
        """Rebuild the normalised adjacency from ``train`` + the knowledge graph (+ EASE if fused)."""
        if (train.num_users, train.num_items) != (self.num_users, self.num_items):
            raise ModelError(
                f"KGCF was built for {self.num_users} users x {self.num_items} items, "
                f"got interactions over {train.num_users} x {train.num_items}"
            )
        u, i = train.edge_index.long().cpu()
        kg = self.kg_edges.cpu()
        row, col = torch.cat([u, kg[0]]), torch.cat([i + self.num_users, kg[1]])
        weight = torch.cat([torch.ones(u.numel()), self.kg_weights.cpu()])
        self._adj = sym_norm_adjacency(row, col, weight, self.num_nodes).to(self.embedding.weight.device)
        self._cache = None
        self.warm = torch.bincount(i, minlength=self.num_items).to(self.embedding.weight.device) > 0
        self.ease, self._train = None, train
        if self.config.fuse_weight > 0:
            self.ease = ease_weights(train, self.config.ease_l2)

    @contextmanager
    def gnn_only(self) -> Iterator[KGCF]:
        """Score with the GNN part alone inside (training, early stopping); the served fusion after (EASE refitted)."""
        served = self.config
        self.config = replace(served, fuse_weight=0.0, trend_weight=0.0, gnn_weight=1.0)
        try:
            yield self
        finally:
            self.config = served
            self._cache = None
            if served.fuse_weight > 0 and self.ease is None and self._train is not None:
                self.ease = ease_weights(self._train, served.ease_l2)

    def tune_fusion(
        self,
        valid_metric: Callable[[], float],
        fuse: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0),
        trend: tuple[float, ...] = (0.0, 0.5, 1.0, 1.7, 2.2),
    ) -> dict[str, float]:
        """Set ``fuse_weight`` / ``trend_weight`` to the grid point with the best ``valid_metric()`` (ties: current)."""
        if self.ease is None and self._train is not None:
            self.ease = ease_weights(self._train, self.config.ease_l2)
        current = (self.config.fuse_weight, self.config.trend_weight)
        scores: dict[tuple[float, float], float] = {}
        for point in [current, *((f, t) for f in fuse for t in trend)]:
            self.config = replace(self.config, fuse_weight=point[0], trend_weight=point[1])
            scores.setdefault(point, valid_metric())
        best = max(scores, key=lambda p: (scores[p], p == current))
        self.config = replace(self.config, fuse_weight=best[0], trend_weight=best[1])
        return {"fuse_weight": best[0], "trend_weight": best[1], "valid": scores[best]}

    def train(self, mode: bool = True) -> KGCF:
        self._cache = None
        return super().train(mode)

    def _input(self) -> Tensor:
        e0 = self.embedding.weight
        if self.text_proj is None and not (self.training and self.config.id_dropout > 0):
            return e0
        u, n = self.num_users, self.num_items
        prod = e0[u : u + n]
        if self.training and self.config.id_dropout > 0:
            keep = torch.rand(n, 1, device=e0.device) >= self.config.id_dropout
            prod = prod * keep
        if self.text_proj is not None:
            prod = prod + self.text_proj(self.text)
        return torch.cat([e0[:u], prod, e0[u + n :]])

    def propagate(self, perturb: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """(final embeddings, ``cl_layer`` embeddings, inputs) of all nodes."""
        if self._adj is None:
            raise ModelError("KGCF has no graph yet; call fit(train_interactions) first")
        if self._adj.device != self.embedding.weight.device:
            self._adj = self._adj.to(self.embedding.weight.device)
        cfg = self.config
        x = e0 = self._input()
        total = e0 if cfg.include_input else torch.zeros_like(e0)
        layer_l = e0
        for layer in range(1, cfg.num_layers + 1):
            x = SymSpMM.apply(self._adj, x)
            if perturb:
                noise = F.normalize(torch.rand_like(x), dim=1) * cfg.cl_eps
                x = x + torch.sign(x) * noise
            total = total + x
            if layer == cfg.cl_layer:
                layer_l = x
        return total / (cfg.num_layers + int(cfg.include_input)), layer_l, e0

    def embeddings(self) -> Tensor:
        """Propagated embeddings of all nodes (cached in eval mode)."""
        if self._cache is not None and not self.training:
            return self._cache
        out = self.propagate()[0]
        if not self.training:
            self._cache = out.detach()
        return out

    def loss(self, batch: TrainBatch) -> Tensor:
        cfg = self.config
        self._cache = None
        perturb = cfg.cl_weight > 0
        emb, emb_l, e0 = self.propagate(perturb=perturb)
        users, pos = batch.users, batch.pos_items
        neg = batch.neg_items if batch.neg_items.dim() == 2 else batch.neg_items.unsqueeze(1)
        u_nodes, pos_nodes, neg_nodes = users, pos + self.num_users, neg + self.num_users
        # scores of the batch's distinct users against every product, then gathered: cheaper on CPU than
        # gathering B*n embedding rows (whose backward is a large scatter) while the catalogue is small;
        # for sampled objectives over a large catalogue ([U_b, I] >> [B, n]) the pairs are gathered instead
        uniq, inv = torch.unique(u_nodes, return_inverse=True)
        gather = cfg.objective != "full" and not cfg.in_batch and uniq.numel() * self.num_items > 8 * neg.numel()
        full = torch.empty(0)
        if gather:
            e_u = emb.index_select(0, u_nodes)
            pos_s = (e_u * emb.index_select(0, pos_nodes)).sum(-1)
            e_n = emb.index_select(0, neg_nodes.reshape(-1)).view(*neg.shape, -1)
            neg_s = torch.bmm(e_n, e_u.unsqueeze(2)).squeeze(2)
            if cfg.warm_negatives:  # never-bought products are not pushed down as negatives
                neg_s = neg_s.masked_fill(~self.warm.to(neg_s.device)[neg], float("-inf"))
        else:
            items = emb[self.num_users : self.num_users + self.num_items]
            full = emb.index_select(0, uniq) @ items.t()  # [U_b, I]
            flat = full.reshape(-1)
            pos_s = flat.index_select(0, inv * self.num_items + pos)
            if cfg.warm_negatives:  # never-bought products are not pushed down as negatives
                full = full.masked_fill(~self.warm.to(full.device), float("-inf"))
                flat = full.reshape(-1)
            if cfg.objective != "full":
                neg_s = flat.index_select(0, (inv.unsqueeze(1) * self.num_items + neg).reshape(-1)).view(neg.shape)
        if cfg.objective == "full":  # softmax over every product
            rec = (torch.logsumexp(full / cfg.tau, 1).index_select(0, inv) - pos_s / cfg.tau).mean()
        else:
            if 0 < cfg.hard_keep < neg_s.size(1):
                neg_s = neg_s.topk(cfg.hard_keep, dim=1).values
            if cfg.objective == "bpr":
                rec = -F.logsigmoid(pos_s.unsqueeze(1) - neg_s).mean()
            else:
                parts = [pos_s.unsqueeze(1), neg_s]
                if cfg.in_batch:  # the batch's other positives (sharing the user's score row)
                    other = full.index_select(0, inv).index_select(1, pos)
                    parts.append(other.masked_fill(pos.unsqueeze(0) == pos.unsqueeze(1), float("-inf")))
                rec = -F.log_softmax(torch.cat(parts, 1) / cfg.tau, dim=1)[:, 0].mean()
        # L2 of the batch's input rows, as counts x squared norms (no [B*n, d] gather)
        counts = torch.bincount(torch.cat([u_nodes, pos_nodes, neg_nodes.reshape(-1)]), minlength=self.num_nodes)
        reg = cfg.reg * (counts * e0.pow(2).sum(1)).sum() / (2 * users.numel())
        loss = rec + reg
        if perturb:
            cl_u, cl_i = (subsample(torch.unique(n), cfg.cl_nodes) for n in (u_nodes, pos_nodes))
            loss = loss + cfg.cl_weight * (
                info_nce(emb.index_select(0, cl_u), emb_l.index_select(0, cl_u), cfg.cl_tau)
                + info_nce(emb.index_select(0, cl_i), emb_l.index_select(0, cl_i), cfg.cl_tau)
            )
        return loss

    def gnn_scores(self, users: Tensor) -> Tensor:
        """``[len(users), num_items]`` scores of the GNN part alone."""
        emb = self.embeddings()
        return emb[users] @ emb[self.num_users : self.num_users + self.num_items].t()

    def _fused(self) -> bool:
        c = self.config
        return (self.ease is not None and c.fuse_weight > 0) or c.trend_weight > 0 or c.gnn_weight != 1.0

    def _fuse(self, gnn: Tensor, history: Tensor) -> Tensor:
        """The served score from the GNN scores and the ``[rows, num_items]`` 0/1 histories, dense or sparse CSR (see module doc)."""
        cfg = self.config
        if not self._fused():
            return gnn
        out = row_z_(gnn)  # the GNN scores are computed fresh for each call: standardised in place
        if cfg.gnn_weight != 1.0:
            out.mul_(cfg.gnn_weight)
        if self.ease is not None and cfg.fuse_weight > 0:
            ease = torch.sparse.mm(history, self.ease[1]) if history.layout != torch.strided else history @ self.ease[1]
            out.add_(row_z_(ease.to(gnn.device)).mul_(cfg.fuse_weight))
        if cfg.trend_weight > 0:
            t = self.trend.to(gnn.device)
            out.add_((cfg.trend_weight * ((t - t.mean()) / t.std().clamp_min(1e-8))).unsqueeze(0))
        return out

    def score_all(self, users: Tensor) -> Tensor:
        history = torch.zeros(0)
        if self.ease is not None and self.config.fuse_weight > 0:
            history = sparse_rows(self.ease[0], users)  # sparse rows: X_u B costs nnz(X_u) x I, not I^2
        return self._fuse(self.gnn_scores(users), history)

    def score_products(self, anchor_items: Tensor, candidate_items: Tensor | None = None) -> Tensor:
        """GNN product↔product scores ``[len(anchor), len(candidates)]`` (all products when ``None``)."""
        items = self.embeddings()[self.num_users : self.num_users + self.num_items]
        return items[anchor_items] @ (items if candidate_items is None else items[candidate_items]).t()

    def score_basket(self, items: Tensor) -> Tensor:
        """``[num_items]`` scores for an anonymous basket: its items act as a user's history (same fusion)."""
        item_emb = self.embeddings()[self.num_users : self.num_users + self.num_items]
        history = torch.zeros(1, self.num_items)
        history[0, items.cpu()] = 1.0
        return self._fuse(item_emb[items].mean(0, keepdim=True) @ item_emb.t(), history)[0]

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        if not self._fused():
            emb = self.embeddings()
            return (emb[users] * emb[items + self.num_users]).sum(-1)
        uniq, inv = torch.unique(users, return_inverse=True)
        return self.score_all(uniq)[inv, items]


def recent_buyers(orders: OrderRows, lines: np.ndarray, num_items: int, days: float = 14.0) -> Tensor:
    """``log(1 + distinct buyers)`` of each product over the last ``days`` of the order lines ``lines`` (bool)."""
    sel = np.flatnonzero(lines)
    if sel.size == 0:
        return torch.zeros(num_items)
    recent = sel[orders.timestamp[sel] >= orders.timestamp[sel].max() - days * 86400]
    pairs = np.unique(orders.user[recent].astype(np.int64) * num_items + orders.product[recent])
    return torch.from_numpy(np.log1p(np.bincount(pairs % num_items, minlength=num_items)).astype(np.float32))

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

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor

from gnn.contract import Interactions, RecModel, TrainBatch
from kg.errors import ModelError


@dataclass(frozen=True)
class BundleModelConfig:
    """Hyper-parameters (defaults: CrossCBR's published Youshu setting)."""

    dim: int = 64
    layers: int = 1
    temperature: float = 0.25
    cl_weight: float = 0.04
    edge_drop: float = 0.2
    seed: int = 42


def bipartite_laplacian(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> Tensor:
    """:math:`D^{-1/2} A D^{-1/2}` of the bipartite graph rows∪cols, as a sparse COO tensor."""
    n = n_rows + n_cols
    r = np.concatenate([rows, cols + n_rows])
    c = np.concatenate([cols + n_rows, rows])
    deg = np.bincount(r, minlength=n).astype(np.float32)
    inv = np.zeros_like(deg)
    inv[deg > 0] = deg[deg > 0] ** -0.5
    values = inv[r] * inv[c]
    index = torch.from_numpy(np.stack([r, c])).long()
    return torch.sparse_coo_tensor(index, torch.from_numpy(values), (n, n)).coalesce()


def mean_pool_matrix(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> Tensor:
    """Row-normalised membership matrix: ``M @ X`` is the mean of each row's members."""
    size = np.bincount(rows, minlength=n_rows).astype(np.float32)
    values = 1.0 / np.maximum(size[rows], 1.0)
    index = torch.from_numpy(np.stack([rows, cols])).long()
    return torch.sparse_coo_tensor(index, torch.from_numpy(values), (n_rows, n_cols)).coalesce()


def _drop(edges: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
    if ratio <= 0:
        return edges
    return edges[:, rng.random(edges.shape[1]) >= ratio]


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

    name = "gnn"

    def __init__(self, num_users: int, num_bundles: int, num_items: int, user_items: Tensor,
                 bundle_items: Tensor, config: BundleModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or BundleModelConfig()
        self.num_users, self.num_bundles, self.num_items = num_users, num_bundles, num_items
        for name, edges, n_rows in (("user_items", user_items, num_users),
                                    ("bundle_items", bundle_items, num_bundles)):
            if edges.numel() and (int(edges[0].max()) >= n_rows or int(edges[1].max()) >= num_items):
                raise ModelError(f"{name} holds ids outside [0, {n_rows}) x [0, {num_items}): "
                                 "build the id maps over the whole catalogue")
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
            raise ModelError(f"training interactions are {train.num_users}x{train.num_items}, the "
                             f"model is {self.num_users} users x {self.num_bundles} bundles")
        self._ub = train.edge_index.cpu().numpy()
        self._eval_graphs = self._build(drop=0.0)
        self.resample_graphs()

    def _build(self, drop: float) -> dict[str, Tensor]:
        dev = self.user_emb.device
        ui, ub, bi = (_drop(e, drop, self._rng) for e in (self._ui, self._ub, self._bi))
        return {
            "ui": bipartite_laplacian(ui[0], ui[1], self.num_users, self.num_items).to(dev),
            "ub": bipartite_laplacian(ub[0], ub[1], self.num_users, self.num_bundles).to(dev),
            "bi": mean_pool_matrix(bi[0], bi[1], self.num_bundles, self.num_items).to(dev),
        }

    def resample_graphs(self) -> None:
        """Draw a fresh edge-dropout augmentation (call once per epoch)."""
        if not self._eval_graphs:
            raise ModelError("call fit(train) before training the bundle model")
        self._graphs = self._build(self.config.edge_drop) if self.config.edge_drop > 0 else self._eval_graphs
        self._cache = None

    # -- propagation --------------------------------------------------------------------------
    def _propagate(self, graph: Tensor, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        features = torch.cat([a, b])
        total = features
        for layer in range(self.config.layers):
            features = torch.sparse.mm(graph, features) / (layer + 2)
            total = total + F.normalize(features, dim=1)
        return total[: a.size(0)], total[a.size(0):]

    def views(self, training: bool | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``(u_item_view, item_item_view, b_item_view, u_bundle_view, b_bundle_view)``."""
        training = self.training if training is None else training
        if not self._eval_graphs:
            raise ModelError("call fit(train) before scoring with the bundle model")
        graphs = self._graphs if training else self._eval_graphs
        u_i, i_i = self._propagate(graphs["ui"], self.user_emb, self.item_emb)
        b_i = torch.sparse.mm(graphs["bi"], i_i)
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
        neg = batch.neg_items if batch.neg_items.dim() == 1 else batch.neg_items[:, 0]
        ui, ubv = u_i[users], u_b[users]
        pos_s = (ui * b_i[pos]).sum(1) + (ubv * b_b[pos]).sum(1)
        neg_s = (ui * b_i[neg]).sum(1) + (ubv * b_b[neg]).sum(1)
        bpr = F.softplus(neg_s - pos_s).mean()
        # distinct ids only: a repeated id would be its own false negative (and costs O(n^2))
        users_u, bundles_u = torch.unique(users), torch.unique(torch.cat([pos, neg]))
        cl = 0.5 * (info_nce(u_i[users_u], u_b[users_u], self.config.temperature)
                    + info_nce(b_i[bundles_u], b_b[bundles_u], self.config.temperature))
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
                raise ModelError(f"a new bundle needs known item ids in [0, {self.num_items}), "
                                 f"got {list(items)}")
            reps.append(i_i[ids].mean(0))
        b_new = torch.stack(reps)
        return (u_i[users] + u_b[users]) @ b_new.T

    def train_epoch(self, optimizer: torch.optim.Optimizer, rng: np.random.Generator,
                    batch_size: int = 2048) -> float:
        """One epoch of BPR + contrastive steps over the training pairs (fresh edge dropout,
        one uniformly drawn negative bundle per pair, never a training positive); mean loss."""
        self.train()
        self.resample_graphs()
        ub, nb = self._ub, self.num_bundles
        seen = set((ub[0] * nb + ub[1]).tolist())
        order, total = rng.permutation(ub.shape[1]), 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            users, pos = ub[0, idx], ub[1, idx]
            neg = rng.integers(0, nb, len(idx))
            for k in range(len(idx)):
                while users[k] * nb + neg[k] in seen and len(seen) < self.num_users * nb:
                    neg[k] = rng.integers(0, nb)
            loss = self.loss(TrainBatch(torch.from_numpy(users), torch.from_numpy(pos),
                                        torch.from_numpy(neg)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        self.eval()
        return total / max(len(order), 1)

    def item_affinity(self, users: Tensor) -> Tensor:
        """``[len(users), num_items]`` item-view user→item scores (for composing bundles)."""
        u_i, i_i, *_ = self._eval_views()
        return u_i[users] @ i_i.T


@dataclass(frozen=True)
class CoPurchaseConfig:
    """Hyper-parameters of :class:`CoPurchaseGNN`."""

    dim: int = 64
    layers: int = 2
    neighbours: int = 64
    max_context: int = 40
    lr: float = 5e-3
    batch_size: int = 512
    evidence: bool = True
    seed: int = 42


@dataclass(frozen=True)
class CoPurchaseCounts:
    """``together[a, b]`` = baskets holding a and b (diagonal 0), ``orders[a]`` = baskets holding a."""

    together: sp.csr_matrix
    orders: np.ndarray

    @classmethod
    def from_baskets(cls, baskets: Sequence[Sequence[int]], num_products: int) -> CoPurchaseCounts:
        rows = np.repeat(np.arange(len(baskets)), [len(b) for b in baskets])
        cols = np.fromiter((i for b in baskets for i in b), dtype=np.int64, count=len(rows))
        x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), (len(baskets), num_products))
        x.data[:] = 1.0
        c = (x.T @ x).tocsr()
        orders = c.diagonal().copy()
        c.setdiag(0)
        c.eliminate_zeros()
        return cls(c, orders)

    def confidence(self, leave_one_out: bool = False) -> sp.csr_matrix:
        """Row-normalised ``together / orders`` (``orders - 1`` when one basket is held out)."""
        denom = np.maximum(self.orders - (1 if leave_one_out else 0), 1)
        return sp.diags(1.0 / denom) @ self.together


def copurchase_graph(counts: CoPurchaseCounts, neighbours: int) -> Tensor:
    r""":math:`D^{-1/2} W D^{-1/2}` of the top-``neighbours`` co-purchase graph, ``W = log(1 + orders)``."""
    c, n = counts.together, counts.together.shape[0]
    keep_r, keep_c, keep_v = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for a in range(n):
        lo, hi = c.indptr[a], c.indptr[a + 1]
        top = np.argsort(-c.data[lo:hi], kind="stable")[:neighbours] + lo
        keep_r.append(np.full(len(top), a))
        keep_c.append(c.indices[top])
        keep_v.append(np.log1p(c.data[top]))
    w = sp.coo_matrix((np.concatenate(keep_v), (np.concatenate(keep_r), np.concatenate(keep_c))), (n, n)).tocsr()
    w = w.maximum(w.T).tocoo()
    deg = np.asarray(w.sum(1)).ravel()
    inv = np.where(deg > 0, deg, 1.0) ** -0.5
    values = (inv[w.row] * w.data * inv[w.col]).astype(np.float32)
    index = torch.from_numpy(np.stack([w.row, w.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(values), (n, n)).coalesce()


def _pool(contexts: Sequence[Sequence[int]], n: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(contexts)), [len(c) for c in contexts])
    cols = np.fromiter((i for c in contexts for i in c), dtype=np.int64, count=len(rows))
    vals = 1.0 / np.repeat([max(len(c), 1) for c in contexts], [len(c) for c in contexts])
    return sp.csr_matrix((vals.astype(np.float32), (rows, cols)), (len(contexts), n))


class CoPurchaseGNN(torch.nn.Module):
    r"""Product↔product compatibility for basket completion: LightGCN over the co-purchase graph.

    :math:`X^{(0)} = E + T P` (free embedding plus projected text vector :math:`T`),
    :math:`H = \frac{1}{L+1}\sum_{l=0}^{L} \hat W^l X^{(0)}` over the normalised co-purchase graph.
    A basket :math:`S` is :math:`q_S = \frac{1}{|S|}\sum_{a \in S} H_a`; its completion score is

    .. math:: s(S, j) = \langle q_S, H_j\rangle + \beta_j
              + w \log\Big(\epsilon + \frac{1}{|S|}\sum_{a \in S} \mathrm{conf}(a \to j)\Big)

    where the last term (``evidence=True``) is a skip connection carrying the co-purchase edge
    weights themselves, with learned :math:`w`. Training: full softmax over all products on
    leave-one-out training baskets (other basket items masked); the held-out basket is removed
    from the confidences it sees, so the model cannot learn to trust a count that includes the
    answer. ``score_products(anchors, candidates)`` is the ``[A, C]`` pairwise compatibility.
    """

    eps = 1e-4

    def __init__(self, counts: CoPurchaseCounts, text: Tensor | None = None,
                 config: CoPurchaseConfig | None = None) -> None:
        super().__init__()
        self.config = config or CoPurchaseConfig()
        generator = torch.Generator().manual_seed(self.config.seed)
        n, d = counts.together.shape[0], self.config.dim
        self.counts = counts
        self.graph = copurchase_graph(counts, self.config.neighbours)
        self._conf = counts.confidence().tocsr()
        self._conf_loo = counts.confidence(leave_one_out=True).tocsr()
        self.emb = torch.nn.Parameter(torch.randn(n, d, generator=generator) * 0.1)
        self.bias = torch.nn.Parameter(torch.zeros(n))
        self.evidence_weight = torch.nn.Parameter(torch.tensor(1.0 if self.config.evidence else 0.0),
                                                  requires_grad=self.config.evidence)
        self.register_buffer("text", text.float() if text is not None else torch.zeros(n, 0))
        self.proj = torch.nn.Linear(self.text.size(1), d, bias=False) if self.text.size(1) else None

    @property
    def num_products(self) -> int:
        return int(self.emb.size(0))

    def product_embeddings(self) -> Tensor:
        x = self.emb if self.proj is None else self.emb + self.proj(self.text)
        total, h = x, x
        for _ in range(self.config.layers):
            h = torch.sparse.mm(self.graph, h)
            total = total + h
        return total / (self.config.layers + 1)

    def _evidence(self, contexts: Sequence[Sequence[int]], targets: Sequence[int] | None) -> Tensor:
        pool = _pool(contexts, self.num_products)
        if targets is None:
            conf = (pool @ self._conf).toarray()
        else:  # leave the training basket out: one order fewer for (a, target) and for a
            conf = (pool @ self._conf_loo).toarray()
            loo = pool @ (1.0 / np.maximum(self.counts.orders - 1, 1))
            conf[np.arange(len(targets)), targets] -= loo
        return torch.log(self.eps + torch.from_numpy(conf.clip(min=0)).float())

    def _logits(self, h: Tensor, contexts: Sequence[Sequence[int]],
                targets: Sequence[int] | None = None) -> Tensor:
        pool = _pool(contexts, self.num_products).tocoo()
        pool_t = torch.sparse_coo_tensor(torch.from_numpy(np.stack([pool.row, pool.col]).astype(np.int64)),
                                         torch.from_numpy(pool.data), pool.shape)
        logits = torch.sparse.mm(pool_t, h) @ h.T + self.bias
        if self.config.evidence:
            logits = logits + self.evidence_weight * self._evidence(contexts, targets)
        logits[torch.from_numpy(pool.row.astype(np.int64)), torch.from_numpy(pool.col.astype(np.int64))] = float("-inf")
        return logits

    def score_baskets(self, contexts: Sequence[Sequence[int]]) -> Tensor:
        """``[len(contexts), num_products]`` completion scores; basket items get ``-inf``."""
        with torch.no_grad():
            return self._logits(self.product_embeddings(), contexts)

    def score_products(self, anchor_items: Tensor, candidate_items: Tensor) -> Tensor:
        """``[A, C]`` compatibility of each anchor product with each candidate product."""
        with torch.no_grad():
            h = self.product_embeddings()
            out = h[anchor_items] @ h[candidate_items].T + self.bias[candidate_items]
            if self.config.evidence:
                a, c = anchor_items.numpy(), candidate_items.numpy()
                conf = torch.from_numpy(self._conf[a][:, c].toarray()).float()
                out = out + self.evidence_weight * torch.log(self.eps + conf)
            return out

    def fit_baskets(self, baskets: Sequence[Sequence[int]], epochs: int,
                    on_epoch=None) -> list[float]:
        """Leave-one-out softmax training; ``on_epoch(epoch, loss)`` may return False to stop."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        usable = [np.asarray(b) for b in baskets if len(b) >= 2]
        opt = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        losses = []
        for epoch in range(1, epochs + 1):
            self.train()
            total = 0.0
            for start in range(0, len(usable), cfg.batch_size):
                chunk = usable[start:start + cfg.batch_size]
                targets, contexts = [], []
                for b in chunk:
                    b = rng.permutation(b)
                    targets.append(int(b[0]))
                    contexts.append(b[1:1 + cfg.max_context].tolist())
                logits = self._logits(self.product_embeddings(), contexts, targets)
                loss = F.cross_entropy(logits, torch.tensor(targets))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(chunk)
            losses.append(total / max(len(usable), 1))
            rng.shuffle(usable)
            if on_epoch is not None and on_epoch(epoch, losses[-1]) is False:
                break
        self.eval()
        return losses

"""Serving: a trained checkpoint + a fresh graph snapshot → typed recommendations.

The served model is KGCF (``gnn.registry.SERVED``); HeteroSAGE checkpoints are served too. The
constructor only rebuilds the model (and refuses one whose training never learned:
``info["learned"]`` false); ``refresh(conn)`` reads the current graph and rebuilds the context:

* KGCF: every purchase known now (fresh orders included) becomes graph edges and EASE history
  (``fit``), the trend is recomputed from the last 14 days of all orders, and a customer's
  purchases are masked from their recommendations. A customer in the graph but new to the model
  is scored from their purchases as a basket (:meth:`KGCF.score_basket`); products added after
  training are not recommended until retraining.
* HeteroSAGE: new users are embedded from the products they bought, new products from their
  text vector and graph neighbours, anonymous baskets through its co-purchase head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from kgrec.gnn.checkpoint import Checkpoint, load_checkpoint, restore_model
from kgrec.gnn.contract import Interactions
from kgrec.gnn.data import PURCHASED, RATED, align_id_index, build_hetero_data, copurchase_pairs
from kgrec.gnn.graph_ops import resolve_device
from kgrec.gnn.models.hetero_sage import HeteroSAGE
from kgrec.gnn.models.kgcf import KGCF, recent_buyers
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import ModelError, UnknownEntityError
from kgrec.kg.export import GraphSnapshot, export_graph


@dataclass(frozen=True)
class Recommendation:
    """One recommended product."""

    product_id: str
    score: float
    title: str | None


def serving_interactions(snapshot: GraphSnapshot, min_rating: float = 4.0) -> Interactions:
    """Every user→product positive known now: order lines, PURCHASED and RATED ≥ ``min_rating``."""
    parts = [snapshot.edge(PURCHASED)]
    if RATED in snapshot.edges:
        parts.append(snapshot.edge(RATED)[:, snapshot.edge_values[RATED] >= min_rating])
    if snapshot.orders is not None:
        parts.append(np.stack([snapshot.orders.user, snapshot.orders.product]))
    n_items = max(snapshot.num("product"), 1)
    keys = np.unique(np.concatenate([p[0] * n_items + p[1] for p in parts]))
    edge_index = torch.from_numpy(np.stack([keys // n_items, keys % n_items])).long().reshape(2, -1)
    return Interactions(snapshot.num("user"), snapshot.num("product"), edge_index)


SERVABLE = ("kgcf", "hetero_sage")


class Recommender:
    """Recommendations from a KGCF (or HeteroSAGE) checkpoint over the live graph."""

    def __init__(self, checkpoint: Checkpoint, device: str = "auto") -> None:
        if checkpoint.name not in SERVABLE:
            raise ModelError(
                f"the recommender serves {' or '.join(SERVABLE)} checkpoints, this one is {checkpoint.name!r}: "
                "train with `kgrec train --model kgcf`"
            )
        if checkpoint.info.get("learned") is False:
            raise ModelError(
                f"this {checkpoint.name} checkpoint did not learn (validation {checkpoint.info.get('metric')} "
                "stayed 0), so it is not served: retrain with more epochs or another learning rate"
            )
        self.checkpoint = checkpoint
        self.device = resolve_device(device)
        self.model: HeteroSAGE | KGCF = restore_model(checkpoint).to(self.device)  # type: ignore[assignment]
        self.snapshot: GraphSnapshot | None = None
        self._purchased: dict[int, np.ndarray] = {}
        self._rows: dict[str, torch.Tensor] = {}  # KGCF: model row of each snapshot user/product (-1: unseen)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> Recommender:
        return cls(load_checkpoint(path), device)

    # -- graph context ----------------------------------------------------------------------------
    def refresh(self, conn: GraphConnection) -> Recommender:
        """Read the current graph and recompute every embedding."""
        return self.use_snapshot(export_graph(conn))

    def use_snapshot(self, snapshot: GraphSnapshot) -> Recommender:
        """Use an already exported snapshot as context."""
        interactions = serving_interactions(snapshot)
        if isinstance(self.model, KGCF):
            self._use_kgcf(snapshot, interactions)
        else:
            self._use_hetero_sage(snapshot, interactions)
        users, items = interactions.edge_index.numpy()
        order = np.argsort(users, kind="stable")
        bounds = np.searchsorted(users[order], np.arange(snapshot.num("user") + 1))
        self._purchased = {u: items[order][bounds[u] : bounds[u + 1]] for u in range(snapshot.num("user"))}
        self.snapshot = snapshot
        return self

    def _use_kgcf(self, snapshot: GraphSnapshot, interactions: Interactions) -> None:
        model = self.model
        assert isinstance(model, KGCF)
        self._rows = rows = align_id_index(snapshot, self.checkpoint.id_maps)
        u, i = rows["user"][interactions.edge_index[0]], rows["product"][interactions.edge_index[1]]
        known = (u >= 0) & (i >= 0)
        model.fit(Interactions(model.num_users, model.num_items, torch.stack([u[known], i[known]])))
        if snapshot.orders is not None and len(snapshot.orders):
            fresh = recent_buyers(snapshot.orders, np.ones(len(snapshot.orders), bool), snapshot.num("product"))
            seen = rows["product"] >= 0
            model.trend.zero_()[rows["product"][seen]] = fresh[seen].to(model.trend.device)
        model.eval()

    def _use_hetero_sage(self, snapshot: GraphSnapshot, interactions: Interactions) -> None:
        assert isinstance(self.model, HeteroSAGE)
        text_dim = self.model.text_dim
        if snapshot.embedding_dim != text_dim:
            if snapshot.embedding_dim and snapshot.embedding_mask.any():
                raise ModelError(
                    f"product vectors have {snapshot.embedding_dim} dimensions but the model was "
                    f"trained on {text_dim}: rerun `kgrec embed` with the training model or retrain"
                )
            snapshot = replace(
                snapshot,
                product_embeddings=np.zeros((snapshot.num("product"), text_dim), np.float32),
                embedding_mask=np.zeros(snapshot.num("product"), bool),
            )
        if snapshot.orders is not None:
            cp = copurchase_pairs(snapshot.orders, np.ones(len(snapshot.orders), bool), snapshot.num("product"))
        else:
            cp = np.zeros((2, 0), np.int64)
        metadata = (self.model.node_types, self.model.edge_types)
        data = build_hetero_data(
            snapshot, interactions, cp, metadata=metadata, id_index=align_id_index(snapshot, self.checkpoint.id_maps)
        )
        self.model.attach(data)
        self.model.eval()

    def _kgcf_scores(self, user: int | None = None, basket: Sequence[int] | np.ndarray = ()) -> torch.Tensor:
        """KGCF scores of every snapshot product (``-inf`` for products the model never saw)."""
        assert isinstance(self.model, KGCF)
        rows = self._rows
        row = int(rows["user"][user]) if user is not None else -1
        with torch.no_grad():
            if row >= 0:
                scores = self.model.score_all(torch.tensor([row], device=self.device))[0]
            else:
                items = rows["product"][torch.as_tensor(np.asarray(basket, dtype=np.int64))]
                items = items[items >= 0]
                if items.numel() == 0:
                    raise UnknownEntityError("none of these products is known to the model: retrain to serve them")
                scores = self.model.score_basket(items.to(self.device))
        out = torch.full((len(rows["product"]),), float("-inf"))
        seen = rows["product"] >= 0
        out[seen] = scores.float().cpu()[rows["product"][seen]]
        return out

    def _snap(self) -> GraphSnapshot:
        if self.snapshot is None:
            raise ModelError("the recommender has no graph context: call refresh(conn) first")
        return self.snapshot

    def _user(self, user_id: str) -> int:
        row = self._snap().index["user"].get(str(user_id))
        if row is None:
            raise UnknownEntityError(
                f"user {user_id!r} is not in the graph: ingest their orders, or recommend "
                "from a basket of product ids (CLI --basket, Python recommend_for_basket)"
            )
        return row

    def _products(self, product_ids: Sequence[str]) -> list[int]:
        index = self._snap().index["product"]
        missing = [p for p in product_ids if str(p) not in index]
        if missing:
            raise UnknownEntityError(
                f"products {missing[:5]} are not in the graph: check the ids "
                "(`kgrec stats`, or search products by title)"
            )
        return [index[str(p)] for p in product_ids]

    def _top(self, scores: torch.Tensor, k: int, exclude: np.ndarray | Sequence[int] = ()) -> list[Recommendation]:
        snap = self._snap()
        scores = scores.detach().float().cpu().clone()
        if len(exclude):
            scores[torch.as_tensor(np.asarray(exclude), dtype=torch.long)] = float("-inf")
        k = min(k, int(torch.isfinite(scores).sum()))
        top = torch.topk(scores, k)
        return [
            Recommendation(snap.ids["product"][i], float(s), snap.product_titles[i])
            for s, i in zip(top.values.tolist(), top.indices.tolist(), strict=False)
        ]

    # -- answers ----------------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10, exclude_purchased: bool = True) -> list[Recommendation]:
        """The ``k`` best products for a user of the graph (their purchases excluded by default)."""
        user = self._user(user_id)
        if isinstance(self.model, KGCF):
            scores = self._kgcf_scores(user, self._purchased.get(user, ()))
        else:
            scores = self.model.score_all(torch.tensor([user], device=self.device))[0]
        return self._top(scores, k, self._purchased.get(user, ()) if exclude_purchased else ())

    def score(self, user_id: str, product_ids: Sequence[str]) -> list[float]:
        """The model's score of each product for the user, in the given order."""
        user, items = self._user(user_id), self._products(product_ids)
        if isinstance(self.model, KGCF):
            return self._kgcf_scores(user, self._purchased.get(user, ()))[items].tolist()
        users = torch.full((len(items),), user, dtype=torch.long, device=self.device)
        return self.model.score(users, torch.tensor(items, device=self.device)).float().cpu().tolist()

    def recommend_for_basket(
        self, product_ids: Sequence[str], k: int = 10, exclude_basket: bool = True
    ) -> list[Recommendation]:
        """Cold-start session: products that go with a basket, from the co-purchase head."""
        items = self._products(product_ids)
        if isinstance(self.model, KGCF):
            return self._top(self._kgcf_scores(basket=items), k, items if exclude_basket else ())
        scores = self.model.score_basket(torch.tensor(items, device=self.device))
        return self._top(scores, k, items if exclude_basket else ())

    def similar_products(self, product_id: str, k: int = 10) -> list[Recommendation]:
        """Products most often bought with ``product_id`` according to the co-purchase head."""
        (item,) = self._products([product_id])
        if isinstance(self.model, KGCF):  # the item as a one-product basket: what is bought with it
            return self._top(self._kgcf_scores(basket=[item]), k, [item])
        scores = self.model.score_products(torch.tensor([item], device=self.device))[0]
        return self._top(scores, k, [item])

"""The one serving interface: :class:`Serving`, called by the CLI, the Python API and the HTTP API.

``Serving(connection, checkpoint)`` does nothing until :meth:`Serving.load` (no DB calls in
constructors). ``load`` reads the cached :class:`ServingIndex` next to the checkpoint, refreshes it
from the graph (only what changed), or builds it when there is no usable cache; :meth:`refresh`
does the same later (``kgrec serve`` polls it). Answers are typed (:mod:`kgrec.serving.types`,
``queries.explain.Explanation``, ``gnn.bundles`` / ``gnn.bundle_recs`` dataclasses).

Model answers (recommend, similar, score, basket completion) read only the in-memory index. Graph
explanations for a page come from the path index (:mod:`kgrec.serving.path_index`, the facts the
paths walk, in memory) when it is enabled (``kgrec serve``), else from two batched queries (a
one-shot CLI call would spend longer reading the index than querying). Write-back stores top-k as
``(User)-[:RECOMMENDED {score, rank, model, at}]->(Product)`` in UNWIND batches.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgrec.kg import cypher
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError, ModelError
from kgrec.queries.explain import (
    Explanation,
    explain,
    explain_basket_many,
    explain_many,
    page_explanations,
    page_query_limit,
    popularity_reason,
)
from kgrec.queries.results import PopularityInfo
from kgrec.serving.index import ServingIndex
from kgrec.serving.page_paths import page_rows
from kgrec.serving.path_index import PathIndex, build_path_index, refresh_path_index
from kgrec.serving.refresh import refresh_index
from kgrec.serving.types import Ranked, RefreshReport, ScoredProduct, WriteBackSummary

if TYPE_CHECKING:
    from torch import Tensor

    from kgrec.gnn.bundle_recs import BundleModelLink, BundleRecommendation, SessionBundlePage
    from kgrec.gnn.bundles import ComposedBundle

log = logging.getLogger(__name__)


class ServingNotReadyError(ModelError):
    """No model is loaded (none trained, still loading, or it failed): HTTP 503."""


@dataclass(frozen=True)
class BundlePage:
    """Bundles for a user; ``how`` is ``bundle GNN`` or ``item overlap``; ``note`` says why it is empty."""

    user_id: str
    items: list[BundleRecommendation]
    how: str
    note: str | None = None


def cache_path(checkpoint: Path, neo4j_uri: str) -> Path:
    """Where the serving index of ``checkpoint`` over the graph at ``neo4j_uri`` is cached (next to it)."""
    tag = hashlib.sha256(neo4j_uri.encode()).hexdigest()[:8]
    return checkpoint.with_name(f"{checkpoint.stem}.serving-{tag}.npz")


def checkpoint_stamp(checkpoint: Path) -> str:
    """The checkpoint's path, modification time and size: a retrained checkpoint invalidates the cache."""
    st = checkpoint.stat()
    return f"{checkpoint.resolve()}|{st.st_mtime_ns}|{st.st_size}"


class Serving:
    """Recommendations, basket completion, bundles, explanations and write-back over one graph."""

    def __init__(self, connection: Callable[[], GraphConnection], checkpoint: Path | None, device: str = "auto",
                 bundle_epochs: int = 30, seed: int = 42, path_index: bool = False) -> None:  # fmt: skip
        self._connection = connection
        self.use_path_index = path_index
        self.paths: PathIndex | None = None
        self.checkpoint = checkpoint
        self.device = device
        self.bundle_epochs = bundle_epochs
        self.seed = seed
        self.index: ServingIndex | None = None
        self.last_refresh: RefreshReport | None = None
        self.load_error: str | None = None
        self._lock = threading.Lock()
        self._bundle_lock = threading.Lock()
        self._bundle_model: BundleModelLink | None = None
        self._bundle_tried = False

    # -- life cycle -----------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self.checkpoint is not None

    @property
    def conn(self) -> GraphConnection:
        return self._connection()

    def load(self) -> RefreshReport:
        """Make the index current: cached + incremental refresh, or a full build (then cached)."""
        if self.checkpoint is None:
            raise ServingNotReadyError(
                "no trained model: run `kgrec train` first, then `kgrec serve --checkpoint PATH`"
            )
        if not self.checkpoint.is_file():
            raise ServingNotReadyError(f"no checkpoint at {self.checkpoint}: run `kgrec train` or fix --checkpoint")
        with self._lock:
            t0 = time.perf_counter()
            conn = self.conn
            path = cache_path(self.checkpoint, conn.credentials.uri)
            stamp = checkpoint_stamp(self.checkpoint)
            index = self.index
            if index is None:
                cached = ServingIndex.load(path)
                index = cached if cached is not None and cached.checkpoint == stamp else None
            paths_file = path.with_name(path.stem.replace(".serving-", ".paths-") + ".json")
            report = RefreshReport("rebuild", reason="no cache next to the checkpoint")
            if index is not None:
                fresh, report = refresh_index(index, conn)
                if fresh is not None and report.kind == "unchanged" and self.index is index:
                    if self.use_path_index:  # bundles, brands or attributes may have changed all the same
                        self._refresh_paths(paths_file, index.fingerprint)
                    self.last_refresh = report
                    return report
                index = fresh
            if index is None:
                from kgrec.serving.build import build_index

                log.info("building the serving index (%s)", report.reason)
                index = build_index(self.checkpoint, conn, self.device, stamp)
            if report.kind != "unchanged":
                try:
                    index.save(path)
                except OSError as exc:  # a read-only runs folder still serves
                    log.warning("serving cache not written to %s: %s", path, exc)
            self.index = index
            self.load_error = None
            if self.use_path_index:
                self._refresh_paths(paths_file, index.fingerprint)
            self.last_refresh = RefreshReport(report.kind, report.new_orders, report.new_order_lines,
                                              report.new_users, report.new_products, time.perf_counter() - t0,
                                              report.reason)  # fmt: skip
            return self.last_refresh

    refresh = load

    def _refresh_paths(self, path: Path, served: dict[str, int]) -> None:
        """Load, refresh or build the path index (cached at ``path``) against the graph whose serving
        fingerprint the index was just refreshed to (``served``: not read twice); arrays derived off
        the request path."""
        t0 = time.perf_counter()
        paths = self.paths or PathIndex.load(path)
        conn = self.conn
        fresh = refresh_path_index(paths, conn, served) if paths is not None else build_path_index(conn, served)
        if fresh is not self.paths:
            self.paths = fresh.warm()
            try:
                fresh.save(path)
            except OSError as exc:
                log.warning("path index cache not written to %s: %s", path, exc)
            log.info("path index ready in %.1f s", time.perf_counter() - t0)

    def _index(self) -> ServingIndex:
        if self.index is None:
            if self.checkpoint is None:
                raise ServingNotReadyError(
                    "no trained model: run `kgrec train` first, then `kgrec serve --checkpoint PATH`"
                )
            why = f" (last attempt: {self.load_error})" if self.load_error else ""
            raise ServingNotReadyError(f"the model is still loading{why}: retry in a few seconds")
        return self.index

    # -- model answers (memory only) --------------------------------------------------------------
    def _ranked(self, index: ServingIndex, top: list[tuple[int, float]], reasons: dict[int, tuple[str, ...]] | None = None) -> list[ScoredProduct]:  # fmt: skip
        out = []
        for rank, (row, score) in enumerate(top, 1):
            price = float(index.prices[row])
            out.append(ScoredProduct(index.product_ids[row], round(score, 6), rank, index.titles[row],
                                     None if np.isnan(price) else price, (reasons or {}).get(row, ())))  # fmt: skip
        return out

    def recommend(self, user_id: str, k: int = 10, exclude_purchased: bool = True) -> Ranked:
        """The ``k`` best products for a user of the graph (their purchases masked by default)."""
        index = self._index()
        u = index.user(user_id)
        bought = index.history(u)
        top = index.top(index.user_scores(u), k, bought if exclude_purchased else ())
        note = None
        if not top:
            note = f"user {user_id!r} has bought every product the model knows: pass --include-purchased"
        elif len(bought) == 0:
            note = f"user {user_id!r} has no purchases yet: these follow the recent trend; ingest orders to personalise"
        return Ranked(self._ranked(index, top), user_id=user_id, note=note)

    def recommend_for_basket(self, product_ids: Sequence[str], k: int = 10) -> Ranked:
        """Products for an anonymous basket (a visitor not in the graph); the basket is masked."""
        index = self._index()
        rows = index.products(list(product_ids))
        top = index.top(index.basket_scores(rows), k, rows)
        return Ranked(self._ranked(index, top), basket=tuple(product_ids))

    def similar(self, product_id: str, k: int = 10) -> Ranked:
        """Products that go with ``product_id`` (the product as a one-item basket)."""
        return self.recommend_for_basket([product_id], k)

    def score(self, user_id: str, product_ids: Sequence[str]) -> list[ScoredProduct]:
        """The served score of each product for the user, in the given order (rank among them)."""
        index = self._index()
        scores = index.user_scores(index.user(user_id))[index.products(list(product_ids))]
        order = {i: r for r, i in enumerate(np.argsort(-scores, kind="stable"), 1)}
        return [ScoredProduct(p, round(float(s), 6), order[i], index.titles[index.product_row[p]])
                for i, (p, s) in enumerate(zip(product_ids, scores, strict=True))]  # fmt: skip

    def complete_basket(self, product_ids: Sequence[str], k: int = 10, max_price: float | None = None,
                        category: str | None = None, in_stock_only: bool = True) -> Ranked:  # fmt: skip
        """Products to add to a basket: model basket score + co-purchase lists (precomputed), filtered.

        Without a model, the graph-only completion of ``gnn.bundles`` answers (slower, same shape)."""
        basket = list(dict.fromkeys(product_ids))
        if not basket or k < 1:
            raise ModelError("give at least one product id and k >= 1 to complete a basket")
        if self.index is None and self.checkpoint is None:
            return self._graph_completion(basket, k, max_price, category, in_stock_only)
        index = self._index()
        rows = index.products(basket)
        allowed = np.ones(index.num_products, bool)
        if max_price is not None:
            allowed &= ~np.isnan(index.prices) & (index.prices <= max_price)
        if in_stock_only:
            allowed &= index.in_stock
        if category is not None:
            allowed &= index.in_category(category)
        found = index.complete(rows, k, allowed)
        reasons: dict[int, tuple[str, ...]] = {}
        nb = index.neighbours
        for row, _, parts, via in found:
            why = []
            if via is not None:
                sl = nb.of(via)
                j = int(np.flatnonzero(nb.indices[sl] == row)[0]) + sl.start
                name = index.titles[via] or index.product_ids[via]
                why.append(f"often bought with {name} (lift {nb.lift[j]:.1f}, {nb.orders[j]} orders)")
            if parts.get("model", 0) >= 0.5:
                why.append(f"the GNN rates it compatible with your basket ({parts['model']:.2f})")
            reasons[row] = tuple(why)
        top = [(row, score) for row, score, _, _ in found]
        note = None
        if not top:
            note = "nothing passes the filters: raise --max-price, drop --category or include out-of-stock products"
        return Ranked(self._ranked(index, top, reasons), basket=tuple(basket), note=note)

    def _graph_completion(self, basket: list[str], k: int, max_price: float | None, category: str | None,
                          in_stock_only: bool) -> Ranked:  # fmt: skip
        from kgrec.gnn.bundles import complete_basket

        done = complete_basket(
            self.conn, basket, k, max_price=max_price, category=category, in_stock_only=in_stock_only
        )
        items = [ScoredProduct(s.product_id, s.score, n, s.title, s.price, tuple(s.reasons))
                 for n, s in enumerate(done.suggestions, 1)]  # fmt: skip
        note = None if items else "no product passes the filters or co-occurs with the basket: relax the filters"
        return Ranked(items, basket=tuple(basket), note=note)

    # -- explanations (graph) ---------------------------------------------------------------------
    def _popularity(self, product_id: str, title: str | None) -> PopularityInfo:
        index = self.index
        if index is None or product_id not in index.product_row:
            from kgrec.queries.results import product_popularity

            return product_popularity(self.conn, product_id)
        buyers = index.buyers
        n = int(buyers[index.product_row[product_id]])
        return PopularityInfo(product_id, title, n, int((buyers > n).sum()) + 1, index.num_products)

    def explain(self, user_id: str, product_id: str, limit: int = 3) -> Explanation:
        """Ranked reasons, from graph paths, why ``product_id`` suits ``user_id``."""
        return explain(self.conn, user_id, product_id, limit)

    def explain_page_in_memory(self, page: Ranked, limit: int = 2) -> dict[str, Explanation] | None:
        """:meth:`explain_page` from the path index alone (no database call; milliseconds), or None
        when the index is off, not loaded yet, or does not hold the user or every product."""
        paths = self.paths
        if page.user_id is None or paths is None or page.user_id not in paths.user_row:
            return None
        if not all(p in paths.product_row for p in page.product_ids):
            return None
        rows, similar = page_rows(paths, page.user_id, page.product_ids, page_query_limit(limit))
        return page_explanations(rows, similar, page.user_id, limit,
                                 lambda pid, title: popularity_reason(self._popularity(pid, title)))  # fmt: skip

    def explain_page(self, page: Ranked, limit: int = 2) -> dict[str, Explanation]:
        """Explanations of every item of a ranked page: from the path index when it holds the user and
        the products, else in two batched queries (one for a basket)."""
        if not page.items:
            return {}
        found = self.explain_page_in_memory(page, limit)
        if found is not None:
            return found
        if page.user_id is not None:
            return explain_many(self.conn, page.user_id, page.product_ids, limit, self._popularity)
        return explain_basket_many(self.conn, page.basket, page.product_ids, limit, self._popularity)

    # -- bundles ----------------------------------------------------------------------------------
    def bundle_model(self) -> BundleModelLink | None:
        """The bundle GNN over the graph's user–bundle interactions, trained once (None without them)."""
        with self._bundle_lock:
            if not self._bundle_tried:
                self._bundle_tried = True
                from kgrec.gnn.bundle_recs import fit_bundle_model
                from kgrec.gnn.bundles import BundleError
                from kgrec.gnn.models.bundle_gnn import BundleModelConfig

                try:
                    self._bundle_model = fit_bundle_model(self.conn, epochs=self.bundle_epochs,
                                                          config=BundleModelConfig(seed=self.seed))  # fmt: skip
                except (BundleError, ModelError) as exc:  # no interactions, or too few to train on
                    log.info("bundles without the bundle GNN: %s", exc)
            return self._bundle_model

    def recommend_bundles(self, user_id: str, k: int = 5, use_model: bool = True) -> BundlePage:
        """Bundle nodes for a user: the bundle GNN when the graph has user–bundle interactions."""
        from kgrec.gnn.bundle_recs import recommend_bundles

        model = self.bundle_model() if use_model else None
        items = recommend_bundles(self.conn, user_id, k, model)
        how = "bundle GNN" if model is not None and user_id in model.users else "item overlap"
        note = None
        if not items:
            note = ("the graph has no Bundle nodes this user has not seen yet: run `kgrec bundles mine` to mine "
                    "bundles from orders, ingest a shop with bundles.csv, or compose one with `kgrec bundles compose`")  # fmt: skip
        return BundlePage(user_id, items, how, note)

    def recommend_bundles_for_session(self, product_ids: Sequence[str], k: int = 5, use_model: bool = True,
                                      compose_size: int = 0, budget: float | None = None) -> SessionBundlePage:  # fmt: skip
        """Bundle nodes for a session's products (a visitor, no user id): item overlap + popularity, and
        bundle EASE + the bundle GNN (inductively) when the graph has user–bundle interactions;
        ``compose_size`` > 0 also builds a bundle of that many products around the session."""
        from kgrec.gnn.bundle_recs import SessionBundlePage, recommend_bundles_for_session
        from kgrec.gnn.bundles import ModelLink, compose_for_session

        model = self.bundle_model() if use_model else None
        items, how = recommend_bundles_for_session(self.conn, product_ids, k, model)
        composed = None
        if compose_size > 0:
            link = ModelLink(_IndexScorer(self.index), self.index.product_row) if self.index is not None else None
            composed = compose_for_session(self.conn, product_ids, size=compose_size, budget=budget, model=link)
        note = None
        if not items:
            note = ("the graph has no Bundle nodes: run `kgrec bundles mine` to mine bundles from orders, ingest a "
                    "shop with bundles.csv, or compose one around the session (`--compose 3`, `compose_size`)")  # fmt: skip
        return SessionBundlePage(list(dict.fromkeys(product_ids)), items, how, note, composed)

    def compose_bundle(self, user_id: str, anchor_product_id: str | None = None, size: int = 3,
                       budget: float | None = None) -> ComposedBundle:  # fmt: skip
        """A new bundle for a user around an optional anchor product, within an optional budget."""
        from kgrec.gnn.bundles import ModelLink, compose_bundle

        link = ModelLink(_IndexScorer(self.index), self.index.product_row) if self.index is not None else None
        return compose_bundle(
            self.conn, user_id, anchor_product=anchor_product_id, size=size, budget=budget, model=link
        )

    # -- write-back -------------------------------------------------------------------------------
    def write_back(self, user_ids: Sequence[str] | None = None, k: int = 10, batch_size: int = 500) -> WriteBackSummary:
        """Store top-``k`` of each user (all users of the graph when None) as RECOMMENDED edges,
        replacing the user's previous ones, ``batch_size`` users per UNWIND transaction."""
        index = self._index()
        users = list(user_ids) if user_ids is not None else list(index.user_ids)
        for u in users:
            index.user(u)  # UnknownEntityError before anything is written
        rows, skipped = [], []
        for u in users:
            page = self.recommend(u, k)
            if not page.items:
                skipped.append(u)
            rows.append({"user_id": u, "items": [{"product_id": i.product_id, "score": i.score, "rank": i.rank}
                                                 for i in page.items]})  # fmt: skip
        at = datetime.now(UTC)
        model = f"{index.model}:{Path(index.checkpoint.split('|')[0]).parent.name}"
        done = self.conn.write_batches(cypher.WRITE_RECOMMENDED, rows, write_batch_size=batch_size,
                                       extra={"model": model, "at": at})  # fmt: skip
        return WriteBackSummary(
            len(users), done.relationships_created, model, at.isoformat(timespec="seconds"), skipped
        )


class _IndexScorer:
    """The index's product embeddings as ``gnn.bundles.ProductScorer`` (compatibility in composition)."""

    def __init__(self, index: ServingIndex) -> None:
        self.index = index

    def score_products(self, anchor_items: Tensor, candidate_items: Tensor) -> Tensor:
        import torch

        emb = torch.from_numpy(self.index.item_emb)
        return emb[anchor_items] @ emb[candidate_items].t()


__all__ = ["BundlePage", "KgrecError", "Serving", "ServingNotReadyError", "cache_path"]

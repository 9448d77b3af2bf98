"""Checkpoint + graph → :class:`ServingIndex` (the one slow path: torch, a full export, KGCF's fit).

Run when there is no cache next to the checkpoint, or when the graph changed in a way the
incremental refresh does not cover (see :mod:`kgrec.serving.refresh`). Reads the graph once
(``kg.export``), refits KGCF's graph and EASE on every purchase known now (as ``gnn.recommender``
does), propagates once, and keeps the arrays; co-purchase neighbour lists and product facts
(price, stock, categories) come from two batched named queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kgrec.kg.connection import GraphConnection, batched
from kgrec.kg.errors import ModelError
from kgrec.kg.export import GraphSnapshot
from kgrec.queries.runner import run
from kgrec.serving.index import Neighbours, ServingIndex, csr, z_score

#: Co-purchase partners kept per product.
NEIGHBOURS_PER_PRODUCT = 50
READ_BATCH = 2_000


def fingerprint(conn: GraphConnection) -> dict[str, Any]:
    """Counts (and the newest order time) that change whenever the graph changes in a way serving sees."""
    row = run(conn, "serving_fingerprint")[0]
    return {k: (int(v) if v is not None else 0) for k, v in row.items()}


def read_neighbour_lists(conn: GraphConnection, product_ids: Sequence[str], row: dict[str, int]) -> dict[int, list[dict[str, Any]]]:  # fmt: skip
    """row → BOUGHT_WITH partners of each of ``product_ids``, strongest first (top :data:`NEIGHBOURS_PER_PRODUCT`)."""
    lists: dict[int, list[dict[str, Any]]] = {}
    for chunk in batched(product_ids, READ_BATCH):
        for r in run(conn, "serving_bought_with", product_ids=list(chunk), per_product=NEIGHBOURS_PER_PRODUCT):
            lists[row[r["product_id"]]] = [n for n in r["neighbours"] if n["product_id"] in row]
    return lists


def neighbours_from_lists(rows: Sequence[Sequence[dict[str, Any]]], row: dict[str, int]) -> Neighbours:
    """CSR :class:`Neighbours` from per-product lists of {product_id, confidence, lift, orders}."""
    indptr, indices = csr([[row[n["product_id"]] for n in r] for r in rows])
    flat = [n for r in rows for n in r]

    def col(name: str, dtype: type) -> np.ndarray:
        return np.array([n[name] if n[name] is not None else 0 for n in flat], dtype=dtype)

    return Neighbours(indptr, indices, col("confidence", np.float32), col("lift", np.float32), col("orders", np.int64))


def neighbour_lists(nb: Neighbours, product_ids: Sequence[str]) -> list[list[dict[str, Any]]]:
    """The inverse of :func:`neighbours_from_lists` (to replace some rows)."""
    return [
        [{"product_id": product_ids[j], "confidence": float(c), "lift": float(li), "orders": int(o)}
         for j, c, li, o in zip(*(a[nb.of(i)].tolist() for a in (nb.indices, nb.confidence, nb.lift, nb.orders)), strict=True)]
        for i in range(len(nb.indptr) - 1)
    ]  # fmt: skip


def read_facts(conn: GraphConnection, product_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """id → {title, price, in_stock, direct, categories, vector} of the products that exist."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in batched(product_ids, READ_BATCH):
        out |= {r["product_id"]: r for r in run(conn, "serving_products", product_ids=chunk)}
    return out


def unit_rows(vectors: Sequence[Sequence[float] | None], dim: int) -> np.ndarray:
    """Unit-length text vectors (zero rows where a product has none or one of another size)."""
    out = np.zeros((len(vectors), dim), np.float32)
    for i, v in enumerate(vectors):
        if v is not None and len(v) == dim:
            out[i] = v
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def categories(facts: dict[str, dict[str, Any]], product_ids: Sequence[str]) -> tuple[list[str], tuple[np.ndarray, ...]]:  # fmt: skip
    """Category names and (ancestors CSR, direct CSR) over ``product_ids``."""
    names = sorted(
        {c for f in facts.values() for c in f["categories"]} | {c for f in facts.values() for c in f["direct"]}
    )
    row = {c: i for i, c in enumerate(names)}
    empty: dict[str, Any] = {"categories": [], "direct": []}
    every = csr([[row[c] for c in facts.get(p, empty)["categories"]] for p in product_ids])
    direct = csr([[row[c] for c in facts.get(p, empty)["direct"]] for p in product_ids])
    return names, (*every, *direct)


@dataclass(frozen=True)
class ModelParts:
    """What a model contributes to the index, over the snapshot's products and users.

    ``item_emb`` rows of products the model never saw (``known`` false) are derived from their
    neighbours; ``user_emb`` rows of users it never saw (``user_known`` false) are the mean of
    what they bought. ``ease`` (optional, [I, I]) and ``trend`` ([I]) feed the fusion.
    """

    name: str
    item_emb: np.ndarray
    known: np.ndarray
    user_emb: np.ndarray
    user_known: np.ndarray
    ease: np.ndarray | None = None
    trend: np.ndarray | None = None
    gnn_weight: float = 1.0
    fuse_weight: float = 0.0
    trend_weight: float = 0.0
    fused: bool = False


def assemble(conn: GraphConnection, snap: GraphSnapshot, purchased: Sequence[np.ndarray], parts: ModelParts,
             stamp: str, print_fp: dict[str, Any]) -> ServingIndex:  # fmt: skip
    """The serving index from a snapshot, each user's purchases (product rows) and a model's parts;
    product facts and co-purchase lists are read from the graph (two batched queries)."""
    product_ids, user_ids = list(snap.ids["product"]), list(snap.ids["user"])
    n_items = len(product_ids)
    item_emb = np.array(parts.item_emb, np.float32, copy=True)
    facts = read_facts(conn, product_ids)
    text_dim = max((len(f["vector"]) for f in facts.values() if f["vector"]), default=0)
    text = unit_rows([facts.get(p, {}).get("vector") for p in product_ids], text_dim)
    names, (cat_ptr, cat_idx, dir_ptr, dir_idx) = categories(facts, product_ids)
    row = {p: i for i, p in enumerate(product_ids)}
    found = read_neighbour_lists(conn, product_ids, row)
    neighbours = neighbours_from_lists([found.get(i, []) for i in range(n_items)], row)
    hist_ptr, hist_idx = csr([np.unique(h) for h in purchased])
    trend_term = np.zeros(n_items, np.float32)
    if parts.trend is not None and parts.trend_weight > 0:
        trend_term = (parts.trend_weight * z_score(parts.trend.astype(np.float32))).astype(np.float32)
    index = ServingIndex(
        model=parts.name, checkpoint=stamp, product_ids=product_ids, titles=list(snap.product_titles),
        prices=np.array([_price(facts.get(p, {}).get("price")) for p in product_ids], np.float64),
        in_stock=np.array([facts.get(p, {}).get("in_stock") is not False for p in product_ids], bool),
        item_emb=item_emb, known_item=np.asarray(parts.known, bool), text=text, user_ids=user_ids,
        user_emb=np.array(parts.user_emb, np.float32, copy=True), hist_indptr=hist_ptr, hist_indices=hist_idx,
        basis=np.diff(hist_ptr), ease=parts.ease, trend_term=trend_term, gnn_weight=parts.gnn_weight,
        fuse_weight=parts.fuse_weight if parts.ease is not None else 0.0, fused=parts.fused, neighbours=neighbours,
        category_names=names, cat_indptr=cat_ptr, cat_indices=cat_idx, direct_indptr=dir_ptr, direct_indices=dir_idx,
        newest_order=int(snap.orders.timestamp.max()) if snap.orders is not None and len(snap.orders) else 0,
        order_count=len(snap.orders.order_ids) if snap.orders is not None else 0,
        fingerprint=print_fp, built_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    for i in np.flatnonzero(~index.known_item):  # products the model never saw: text and graph neighbours
        vec = text[i] if text_dim and text[i].any() else None
        direct = dir_idx[dir_ptr[i] : dir_ptr[i + 1]].tolist()
        item_emb[i] = index.derive_embedding(vec, direct, neighbours.indices[neighbours.of(int(i))].tolist())
    for u in np.flatnonzero(~np.asarray(parts.user_known, bool)):  # users it never saw: what they bought
        if hist_ptr[u + 1] > hist_ptr[u]:
            index.user_emb[u] = item_emb[hist_idx[hist_ptr[u] : hist_ptr[u + 1]]].mean(0)
    return index


def build_index(
    checkpoint: Path, conn: GraphConnection, device: str = "auto", stamp: str | None = None
) -> ServingIndex:
    """The serving index of a KGCF ``checkpoint`` over the graph behind ``conn``."""
    import torch

    from kgrec.gnn.models.kgcf import KGCF
    from kgrec.gnn.recommender import Recommender

    print_fp = fingerprint(conn)  # before the export: a change during the build shows at the next refresh
    rec = Recommender.load(checkpoint, device).refresh(conn)
    model, snap = rec.model, rec.snapshot
    if not isinstance(model, KGCF) or snap is None:
        raise ModelError(f"the serving index serves kgcf checkpoints, {checkpoint} is {rec.checkpoint.name!r}: "
                         "train with `kgrec train --model kgcf`")  # fmt: skip
    with torch.no_grad():
        emb = model.embeddings().float().cpu().numpy()
    users_m, items_m = emb[: model.num_users], emb[model.num_users : model.num_users + model.num_items]
    urow, prow = rec._rows["user"].numpy(), rec._rows["product"].numpy()
    known, user_known = prow >= 0, urow >= 0
    item_emb = np.zeros((len(prow), emb.shape[1]), np.float32)
    item_emb[known] = items_m[prow[known]]
    user_emb = np.zeros((len(urow), emb.shape[1]), np.float32)
    user_emb[user_known] = users_m[urow[user_known]]
    cfg = model.config
    ease = None
    if model.ease is not None and cfg.fuse_weight > 0:
        ease = np.zeros((len(prow), len(prow)), np.float32)
        k = np.flatnonzero(known)
        ease[np.ix_(k, k)] = model.ease[1].numpy()[np.ix_(prow[k], prow[k])]
    trend = np.zeros(len(prow), np.float32)
    trend[known] = model.trend.cpu().numpy()[prow[known]]
    parts = ModelParts(model.name, item_emb, known, user_emb, user_known, ease, trend, float(cfg.gnn_weight),
                       float(cfg.fuse_weight), float(cfg.trend_weight), bool(model._fused()))  # fmt: skip
    purchased = [rec._purchased.get(u, np.zeros(0, np.int64)) for u in range(len(urow))]
    return assemble(conn, snap, purchased, parts, stamp or str(checkpoint), print_fp)


def _price(value: Any) -> float:
    try:
        return float(value) if value is not None else float("nan")
    except (TypeError, ValueError):
        return float("nan")

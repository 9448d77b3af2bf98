"""The serving index: everything a checkpoint needs at serving time, as numpy arrays (no torch).

Built once from a checkpoint and the graph (:mod:`kgrec.serving.build`), cached next to the
checkpoint (:meth:`ServingIndex.save` / :meth:`ServingIndex.load`) and refreshed from the graph
incrementally (:mod:`kgrec.serving.refresh`). Scoring reproduces KGCF's served fusion

.. math:: s = w_g\\,z(E\\,u) + w_e\\,z(h B) + w_t\\,z(\\text{trend})

with the propagated product embeddings ``E``, the user vector ``u``, the user's purchase history
``h`` and EASE's ``B``; top-k is one matrix-vector product and a partial sort (``argpartition``).
Products the model never saw get an embedding from their text and graph neighbours; users it never
saw are the mean of what they bought. Basket completion reads precomputed co-purchase
(BOUGHT_WITH) neighbour lists.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from kgrec.kg.errors import ModelError, UnknownEntityError

#: Bumped when the arrays change meaning; an older cache is rebuilt.
INDEX_FORMAT = 1
#: Candidates the basket completion normalises over (neighbours plus the model's best this many).
BASKET_POOL = 200


_BLAS: list[ThreadpoolController] = []


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` on one BLAS thread: a server answers many requests at once on few cores, and
    a multi-threaded BLAS call per request makes them wait for each other (p50 27 ms → 1.7 ms over
    24,915 products on a busy 2-core machine)."""
    if not _BLAS:
        _BLAS.append(ThreadpoolController())
    with _BLAS[0].limit(limits=1, user_api="blas"):
        return matrix @ vector


def z_score(x: np.ndarray) -> np.ndarray:
    """Mean 0, (sample) std 1, as KGCF's ``row_z``."""
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return (x - x.mean()) / max(std, 1e-8)


def csr(rows: list[np.ndarray] | list[list[int]], n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of a list of integer lists."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    flat = [np.asarray(r, dtype=np.int64) for r in rows]
    indices = np.concatenate(flat) if flat else np.zeros(0, np.int64)
    return indptr, indices.astype(np.int64)


@dataclass(frozen=True)
class Neighbours:
    """Co-purchase lists per product (CSR), strongest first: confidence, lift and orders per entry."""

    indptr: np.ndarray
    indices: np.ndarray
    confidence: np.ndarray
    lift: np.ndarray
    orders: np.ndarray

    def of(self, row: int) -> slice:
        return slice(int(self.indptr[row]), int(self.indptr[row + 1]))


@dataclass(frozen=True)
class ServingIndex:
    """Arrays over the graph's products (rows) and users; see the module docstring."""

    model: str
    checkpoint: str
    product_ids: list[str]
    titles: list[str | None]
    prices: np.ndarray  # float64, nan where unknown
    in_stock: np.ndarray  # bool, False only where the graph says in_stock = false
    item_emb: np.ndarray  # [I, d] float32
    known_item: np.ndarray  # bool: the model saw the product (else derived from neighbours)
    text: np.ndarray  # [I, t] float32 unit text vectors (zero rows: none)
    user_ids: list[str]
    user_emb: np.ndarray  # [U, d] float32
    hist_indptr: np.ndarray  # purchases per user (CSR over product rows)
    hist_indices: np.ndarray
    basis: np.ndarray  # [U] purchases the user vector was computed from (blending fresh ones in)
    ease: np.ndarray | None  # [I, I] float32 or None
    trend_term: np.ndarray  # [I] float32, already weighted
    gnn_weight: float
    fuse_weight: float
    fused: bool
    neighbours: Neighbours
    category_names: list[str]
    cat_indptr: np.ndarray  # categories per product, ancestors included (CSR over category_names)
    cat_indices: np.ndarray
    direct_indptr: np.ndarray  # the product's own categories (CSR)
    direct_indices: np.ndarray
    newest_order: int  # epoch seconds of the newest order folded in (0: none)
    order_count: int  # orders folded in
    fingerprint: dict[str, Any] = field(default_factory=dict)
    built_at: str = ""

    # -- lookups --------------------------------------------------------------------------------
    @cached_property
    def product_row(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.product_ids)}

    @cached_property
    def user_row(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.user_ids)}

    @cached_property
    def category_row(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.category_names)}

    @cached_property
    def buyers(self) -> np.ndarray:
        """Distinct buyers per product (popularity reasons)."""
        return np.bincount(self.hist_indices, minlength=len(self.product_ids))

    @property
    def num_products(self) -> int:
        return len(self.product_ids)

    def user(self, user_id: str) -> int:
        row = self.user_row.get(str(user_id))
        if row is None:
            raise UnknownEntityError(
                f"user {user_id!r} is not in the graph: ingest their orders, or recommend "
                "from a basket of product ids (CLI --basket, HTTP POST /recommendations/session)"
            )
        return row

    def products(self, product_ids: list[str] | tuple[str, ...]) -> list[int]:
        missing = [p for p in product_ids if str(p) not in self.product_row]
        if missing:
            raise UnknownEntityError(
                f"products {missing[:5]} are not in the graph: check the ids (`kgrec stats`, or search by title)"
            )
        return [self.product_row[str(p)] for p in product_ids]

    def history(self, user: int) -> np.ndarray:
        return self.hist_indices[self.hist_indptr[user] : self.hist_indptr[user + 1]]

    def in_category(self, category: str) -> np.ndarray:
        """Bool per product: in ``category`` or one of its sub-categories."""
        mask = np.zeros(self.num_products, bool)
        c = self.category_row.get(category)
        if c is None:
            raise UnknownEntityError(f"no category {category!r} in the graph: see `kgrec query --list` for search")
        hit = np.flatnonzero(self.cat_indices == c)
        mask[np.searchsorted(self.cat_indptr, hit, side="right") - 1] = True
        return mask

    # -- scores -----------------------------------------------------------------------------------
    def _fuse(self, gnn: np.ndarray, history: np.ndarray) -> np.ndarray:
        if not self.fused:
            return gnn
        out = self.gnn_weight * z_score(gnn)
        if self.ease is not None and self.fuse_weight > 0:
            ease = self.ease[history].sum(0) if len(history) else np.zeros(self.num_products, np.float32)
            out = out + self.fuse_weight * z_score(ease)
        return out + self.trend_term

    def user_scores(self, user: int) -> np.ndarray:
        """Served score of every product for a graph user (one matrix-vector product)."""
        return self._fuse(matvec(self.item_emb, self.user_emb[user]), self.history(user))

    def basket_scores(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """Served score of every product for an anonymous basket (its items act as a history)."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        if rows.size == 0:
            raise ModelError("an empty basket cannot be scored: give at least one product id")
        return self._fuse(matvec(self.item_emb, self.item_emb[rows].mean(0)), rows)

    @staticmethod
    def top(scores: np.ndarray, k: int, exclude: np.ndarray | Sequence[int] = (), allowed: np.ndarray | None = None) -> list[tuple[int, float]]:  # fmt: skip
        """The ``k`` best (row, score) pairs, best first, ties by row: argpartition, then sort k."""
        s = np.array(scores, dtype=np.float32, copy=True)
        if len(exclude):
            s[np.asarray(exclude, dtype=np.int64)] = -np.inf
        if allowed is not None:
            s[~allowed] = -np.inf
        k = min(k, int(np.isfinite(s).sum()))
        if k <= 0:
            return []
        idx = np.argpartition(-s, k - 1)[:k] if k < s.size else np.arange(s.size)
        idx = idx[np.lexsort((idx, -s[idx]))]
        return [(int(i), float(s[i])) for i in idx]

    def complete(self, basket: list[int], k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float, dict[str, float], int | None]]:  # fmt: skip
        """Basket completion: model basket score and co-purchase confidence (mean over the basket),
        min-max normalised over the candidate pool and added. (row, score, parts, best basket item)."""
        rows = list(dict.fromkeys(basket))
        n, nb = self.num_products, self.neighbours
        copurchase = np.zeros(n, np.float32)
        via = np.full(n, -1, np.int64)
        best = np.zeros(n, np.float32)
        for a in rows:
            sl = nb.of(a)
            cand, conf = nb.indices[sl], nb.confidence[sl]
            copurchase[cand] += conf / len(rows)
            better = conf > best[cand]
            best[cand[better]], via[cand[better]] = conf[better], a
        model = self.basket_scores(rows)
        pool = np.zeros(n, bool)
        pool[copurchase > 0] = True
        pool[[r for r, _ in self.top(model, BASKET_POOL, rows, allowed)]] = True
        pool[rows] = False
        if allowed is not None:
            pool &= allowed
        cand = np.flatnonzero(pool)
        if cand.size == 0:
            return []
        parts = {"model": model[cand], "copurchase": copurchase[cand]}
        normed = {name: _minmax(v) for name, v in parts.items()}
        total = normed["model"] + normed["copurchase"]
        order = np.lexsort((cand, -total))[:k]
        return [
            (int(cand[i]), float(total[i]), {p: round(float(v[i]), 4) for p, v in normed.items()},
             int(via[cand[i]]) if via[cand[i]] >= 0 else None)
            for i in order
        ]  # fmt: skip

    # -- growing with the graph (refresh) ---------------------------------------------------------
    def derive_embedding(self, text: np.ndarray | None, direct: list[int], partners: list[int]) -> np.ndarray:
        """An embedding for a product the model never saw: the mean of its text neighbours' (10 nearest
        known products by text cosine), its category members' and its co-purchase partners' embeddings."""
        known = np.flatnonzero(self.known_item)
        parts: list[np.ndarray] = []
        if text is not None and self.text.shape[1] == text.shape[0] and known.size:
            sims = self.text[known] @ text
            near = known[np.argsort(-sims, kind="stable")[:10]]
            parts.append(self.item_emb[near].mean(0))
        if direct:
            members = np.flatnonzero(np.isin(self.direct_indices, direct))
            rows = np.searchsorted(self.direct_indptr, members, side="right") - 1
            rows = np.intersect1d(rows, known)[:50]
            if rows.size:
                parts.append(self.item_emb[rows].mean(0))
        partners = [p for p in partners if self.known_item[p]]
        if partners:
            parts.append(self.item_emb[partners].mean(0))
        if not parts:
            return self.item_emb[known].mean(0) if known.size else np.zeros(self.item_emb.shape[1], np.float32)
        return np.mean(parts, axis=0).astype(np.float32)

    def evolve(self, **changes: Any) -> ServingIndex:
        """A copy with ``changes`` (the cached lookups are rebuilt on first use)."""
        return replace(self, **changes)

    # -- cache ------------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write ``path`` (.npz, uncompressed: loads in tens of milliseconds) and ``path``.json."""
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {"format": INDEX_FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            elif isinstance(value, Neighbours):
                arrays |= {f"nb_{g.name}": getattr(value, g.name) for g in fields(Neighbours)}
            elif f.name in ("product_ids", "user_ids", "category_names"):
                arrays[f.name] = np.asarray(value, dtype=str)
            elif f.name == "titles":
                arrays[f.name] = np.asarray(["" if t is None else t for t in value], dtype=str)
                arrays["has_title"] = np.asarray([t is not None for t in value], dtype=bool)
            elif value is None:
                meta[f.name] = None
            else:
                meta[f.name] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        with tmp.open("wb") as out:
            np.savez(out, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1, default=str), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> ServingIndex | None:
        """The cached index at ``path``, or None when there is none or it is of another format."""
        meta_path = path.with_suffix(".json")
        if not path.is_file() or not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.pop("format", None) != INDEX_FORMAT:
            return None
        with np.load(path, allow_pickle=False) as z:
            a = {name: z[name] for name in z.files}
        nb = Neighbours(*(a.pop(f"nb_{g.name}") for g in fields(Neighbours)))
        has_title = a.pop("has_title")
        titles = [str(t) if h else None for t, h in zip(a.pop("titles").tolist(), has_title.tolist(), strict=True)]
        strings = {
            name: [str(x) for x in a.pop(name).tolist()] for name in ("product_ids", "user_ids", "category_names")
        }
        meta.pop("ease", None)
        ease = a.pop("ease", None)
        return cls(**meta, **a, **strings, titles=titles, neighbours=nb, ease=ease)  # type: ignore[arg-type]


def _minmax(v: np.ndarray) -> np.ndarray:
    lo, hi = float(v.min()), float(v.max())
    return (v - lo) / (hi - lo) if hi > lo else np.full_like(v, 1.0 if hi > 0 else 0.0)

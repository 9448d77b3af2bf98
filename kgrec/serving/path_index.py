"""The path index: the graph facts that page explanations walk, held in memory by ``kgrec serve``.

Explaining a page of recommendations in Cypher (``explain_page`` + ``explain_page_users``) joins
every candidate with every product the user bought and every customer who shares one: tens of
milliseconds of database time per page, which a 2-core machine cannot give sixteen concurrent
shoppers. The path index keeps the same facts as arrays: each user's purchases (with counts),
profile attributes and bundles; each product's direct categories, brands, attributes, bundles and
strongest incoming BOUGHT_WITH links (:data:`~kgrec.queries.explain.LINKS_PER_PRODUCT` by lift:
lift, confidence, support, orders); each bundle's products.
:mod:`kgrec.serving.page_paths` walks them and yields the rows the Cypher queries return, so
the reasons (and their paths) are the same; ``tests/serving/test_page_paths.py`` compares them.

The index is read in a few batched queries (one row per product, user or bundle, lists nested),
cached next to the serving index as JSON records keyed by a fingerprint of the graph, and
refreshed like the serving index: unchanged, incremental (new orders, users and products: only
what they touched is re-read), or rebuilt.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from kgrec.kg.connection import GraphConnection, batched
from kgrec.kg.export import read_node_ids
from kgrec.kg.schema import Label
from kgrec.queries.explain import LINKS_PER_PRODUCT
from kgrec.queries.runner import run
from kgrec.serving.build import READ_BATCH, fingerprint
from kgrec.serving.refresh import blocker

#: Bumped when the cached records change meaning; an older cache is rebuilt.
PATH_INDEX_FORMAT = 2

Record = dict[str, Any]


@dataclass(frozen=True)
class Lists:
    """Integer lists per row (CSR): ``row(i)`` is the i-th list."""

    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def of(cls, rows: Sequence[Sequence[int]]) -> Lists:
        indptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum([len(r) for r in rows], out=indptr[1:])
        flat = [i for r in rows for i in r]
        return cls(indptr, np.asarray(flat, np.int64))

    def row(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The lists of ``rows`` concatenated (vectorised)."""
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        if not lengths.sum():
            return np.zeros(0, np.int64)
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        return self.indices[offsets + np.arange(int(lengths.sum()))]

    def span(self, i: int) -> slice:
        return slice(int(self.indptr[i]), int(self.indptr[i + 1]))

    def transpose(self, n: int) -> tuple[Lists, np.ndarray]:
        """(the lists of ``n`` target rows, and for each entry the position of its source entry)."""
        sources = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        order = np.lexsort((sources, self.indices))
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(self.indices, minlength=n), out=indptr[1:])
        return Lists(indptr, sources[order]), order


def _number(value: Any) -> float:
    """float, NaN for null (kept apart from 0 so that null comes back as None)."""
    return float("nan") if value is None else float(value)


class Names:
    """Distinct strings in first-seen order, each with a row."""

    def __init__(self) -> None:
        self.row: dict[str, int] = {}
        self.values: list[str] = []
        self.extra: list[Any] = []

    def add(self, value: str, extra: Any = None) -> int:
        row = self.row.get(value)
        if row is None:
            row = self.row[value] = len(self.values)
            self.values.append(value)
            self.extra.append(extra)
        return row


@dataclass(frozen=True)
class PathIndex:
    """The facts of :mod:`kgrec.serving.page_paths`, over the graph's products, users and bundles.

    ``products``, ``users`` and ``bundles`` hold the query rows as read (the cache and the
    incremental refresh work on them); the arrays are derived from them on first use, or all at
    once by :meth:`warm`.
    """

    fingerprint: dict[str, int]
    products: dict[str, Record]
    users: dict[str, Record]
    bundles: list[Record]

    # -- products ---------------------------------------------------------------------------------
    @cached_property
    def product_ids(self) -> list[str]:
        return sorted(self.products)

    @cached_property
    def product_row(self) -> dict[str, int]:
        return {p: i for i, p in enumerate(self.product_ids)}

    @cached_property
    def titles(self) -> list[str | None]:
        return [self.products[p]["title"] for p in self.product_ids]

    @cached_property
    def user_ids(self) -> list[str]:
        return sorted(self.users)

    @cached_property
    def user_row(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.user_ids)}

    @cached_property
    def _facts(self) -> dict[str, Any]:
        """Categories, brands, attributes (product and user) and bundles as row lists."""
        cats, brands, attrs, bundle_names = Names(), Names(), Names(), Names()
        for b in self.bundles:
            bundle_names.add(b["bundle_id"], b)
        prow = self.product_row
        out: dict[str, list[list[int]]] = {"cat": [], "brand": [], "attr": [], "bundle": []}
        for p in self.product_ids:
            r = self.products[p]
            out["cat"].append(sorted({cats.add(path, int(level or 0)) for path, level in r["categories"]}))
            out["brand"].append(sorted({brands.add(name) for name in r["brands"]}))
            out["attr"].append(sorted({attrs.add(key, name) for key, name in r["attributes"]}))
            out["bundle"].append(sorted({bundle_names.row[b] for b in r["bundles"] if b in bundle_names.row}))
        user_attr, user_bundle = [], []
        for u in self.user_ids:
            r = self.users[u]
            user_attr.append(sorted({attrs.add(key, name) for key, name in r["attributes"]}))
            user_bundle.append(sorted({bundle_names.row[b] for b in r["bundles"] if b in bundle_names.row}))
        members = [sorted({prow[p] for p in b["products"] if p in prow}) for b in self.bundles]
        return {
            "categories": cats, "brands": brands, "attributes": attrs,
            "product_categories": Lists.of(out["cat"]), "product_brands": Lists.of(out["brand"]),
            "product_attributes": Lists.of(out["attr"]), "product_bundles": Lists.of(out["bundle"]),
            "user_attributes": Lists.of(user_attr), "user_bundles": Lists.of(user_bundle),
            "bundle_products": Lists.of(members),
            "bundle_size": np.array([len(b["products"]) for b in self.bundles], np.int64),
        }  # fmt: skip

    def fact(self, name: str) -> Any:
        return self._facts[name]

    # -- purchases --------------------------------------------------------------------------------
    @cached_property
    def purchases(self) -> tuple[Lists, np.ndarray]:
        """(each user's purchased product rows, sorted; the PURCHASED count of each, NaN for null)."""
        prow = self.product_row
        rows, counts = [], []
        for u in self.user_ids:
            bought = sorted((prow[p], _number(c)) for p, c in self.users[u]["purchased"] if p in prow)
            rows.append([p for p, _ in bought])
            counts += [c for _, c in bought]
        return Lists.of(rows), np.asarray(counts, np.float64)

    @cached_property
    def buyers(self) -> Lists:
        """Each product's buyers (user rows, sorted)."""
        return self.purchases[0].transpose(len(self.product_ids))[0]

    # -- co-purchase ------------------------------------------------------------------------------
    @cached_property
    def bought_with_into(self) -> tuple[Lists, np.ndarray]:
        """(each product's strongest incoming BOUGHT_WITH source rows, their [E, 4] lift, confidence,
        support and orders; NaN for null), for ``x -> p`` lookups."""
        prow = self.product_row
        links = [self.products[p]["bought_with_into"] for p in self.product_ids]
        source = np.array([prow.get(link[0], -1) for found in links for link in found], np.int64)
        values = np.array([link[1:] for found in links for link in found], np.float64).reshape(-1, 4)  # None: NaN
        target = np.repeat(np.arange(len(links)), [len(found) for found in links])
        keep = source >= 0
        indptr = np.zeros(len(links) + 1, np.int64)
        np.cumsum(np.bincount(target[keep], minlength=len(links)), out=indptr[1:])
        return Lists(indptr, source[keep]), values[keep]

    def warm(self) -> PathIndex:
        """Derive every array now (a server does it once, off the request path)."""
        _ = (self._facts, self.purchases, self.buyers, self.bought_with_into)
        return self

    # -- cache ------------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write the records as JSON (atomically)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        body = {"format": PATH_INDEX_FORMAT, "fingerprint": self.fingerprint, "products": self.products,
                "users": self.users, "bundles": self.bundles}  # fmt: skip
        tmp.write_text(json.dumps(body, separators=(",", ":"), allow_nan=False, default=_json_default), "utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> PathIndex | None:
        """The cached index at ``path``; None when there is none, it is unreadable or of another format."""
        try:
            body = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(body, dict) or body.get("format") != PATH_INDEX_FORMAT:
            return None
        return cls(body["fingerprint"], body["products"], body["users"], body["bundles"])


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


# -- reading the graph ------------------------------------------------------------------------------
def path_fingerprint(conn: GraphConnection, served: dict[str, int] | None = None) -> dict[str, int]:
    """The serving fingerprint (``served`` when the caller just read it) plus the bundle, brand and
    attribute counts explanations also read."""
    row = run(conn, "path_index_fingerprint")[0]
    return (served if served is not None else fingerprint(conn)) | {k: int(v or 0) for k, v in row.items()}


def _read_products(conn: GraphConnection, product_ids: Iterable[str]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for chunk in batched(product_ids, READ_BATCH):
        found = run(conn, "path_index_products", product_ids=chunk, links_per_product=LINKS_PER_PRODUCT)
        out |= {r["product_id"]: r for r in found}
    return out


def _read_users(conn: GraphConnection, user_ids: Iterable[str]) -> dict[str, Record]:
    out: dict[str, Record] = {}
    for chunk in batched(user_ids, READ_BATCH):
        out |= {r["user_id"]: r for r in run(conn, "path_index_users", user_ids=chunk)}
    return out


def build_path_index(conn: GraphConnection, served: dict[str, int] | None = None) -> PathIndex:
    """Read the whole path index from the graph (fingerprint first: a change during the read shows
    at the next refresh; ``served``: the serving fingerprint, when the caller just read it)."""
    fp = path_fingerprint(conn, served)
    products = _read_products(conn, read_node_ids(conn, Label.PRODUCT))
    users = _read_users(conn, read_node_ids(conn, Label.USER))
    return PathIndex(fp, products, users, run(conn, "path_index_bundles"))


def refresh_path_index(index: PathIndex, conn: GraphConnection, served: dict[str, int] | None = None) -> PathIndex:
    """``index`` when the graph is unchanged; after new orders, users and products only what they
    touched is re-read (their products' links and their users' purchases); anything else rebuilds.
    ``served``: the serving fingerprint, when the caller just read it."""
    fp = path_fingerprint(conn, served)
    if fp == index.fingerprint:
        return index
    if blocker(index.fingerprint, fp) is not None:
        return build_path_index(conn, fp)
    lines = run(conn, "serving_order_lines_since", since=index.fingerprint["newest_order"])
    products = {r["product_id"] for r in lines}
    users = {r["user_id"] for r in lines}
    if fp["products"] != index.fingerprint["products"]:
        products |= {p for p in read_node_ids(conn, Label.PRODUCT) if p not in index.products}
    if fp["users"] != index.fingerprint["users"]:
        users |= {u for u in read_node_ids(conn, Label.USER) if u not in index.users}
    fresh = PathIndex(fp, index.products | _read_products(conn, sorted(products)),
                      index.users | _read_users(conn, sorted(users)), index.bundles)  # fmt: skip
    if len(fresh.products) != fp["products"] or len(fresh.users) != fp["users"]:
        return build_path_index(conn, fp)  # something else changed as well: read it all
    return fresh

"""Keep a :class:`ServingIndex` in step with the graph: unchanged, incremental, or rebuilt.

A fingerprint (counts of users, products, orders, order lines, PURCHASED, RATED, BOUGHT_WITH,
IN_CATEGORY and the newest order time; one query on the count store) tells whether anything
changed. When only orders, users and products were *added*, the refresh is incremental and reads
only what changed: the order lines of orders newer than the index's newest one, the new products
(facts, text vector, categories), and the co-purchase lists of the products those orders touched.

* new purchases join the user's history at once: they are masked from recommendations and feed the
  EASE part (the neighbourhood); the user vector moves towards the new products (weighted by count);
* new users get the mean of what they bought; new products an embedding from their text and graph
  neighbours (:meth:`ServingIndex.derive_embedding`).

Anything else (deletions, new ratings, orders back-dated before the newest one) rebuilds the index
from the checkpoint (:func:`kgrec.serving.build.build_index`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import numpy as np

from kgrec.kg.connection import GraphConnection
from kgrec.kg.export import read_node_ids
from kgrec.kg.schema import Label
from kgrec.queries.runner import run
from kgrec.serving.build import (
    _price,
    fingerprint,
    neighbour_lists,
    neighbours_from_lists,
    read_facts,
    read_neighbour_lists,
    unit_rows,
)
from kgrec.serving.index import ServingIndex, csr
from kgrec.serving.types import RefreshReport

#: Fingerprint counts that may only grow for an incremental refresh (others must stay equal).
GROWING = ("users", "products", "orders", "order_lines", "purchased", "bought_with", "in_category", "newest_order")


def blocker(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Why the change from ``old`` to ``new`` needs a rebuild (None: incremental is enough)."""
    if set(old) != set(new):
        return "the cache predates this fingerprint"
    for key, value in new.items():
        if key in GROWING and value < old[key]:
            return f"{key} went down ({old[key]} → {value})"
        if key not in GROWING and value != old[key]:
            return f"{key} changed ({old[key]} → {value})"
    if new["purchased"] != old["purchased"] and new["orders"] == old["orders"]:
        return "purchases changed without new orders"
    return None


def refresh_index(index: ServingIndex, conn: GraphConnection) -> tuple[ServingIndex | None, RefreshReport]:
    """(the refreshed index, what happened); (None, report) when a rebuild is needed."""
    t0 = time.perf_counter()
    fp = fingerprint(conn)
    if fp == index.fingerprint:
        return index, RefreshReport("unchanged", seconds=time.perf_counter() - t0)
    why = blocker(index.fingerprint, fp)
    if why is not None:
        return None, RefreshReport("rebuild", reason=why, seconds=time.perf_counter() - t0)
    out, report = _incremental(index, conn, fp)
    if out is None or out.order_count != fp["orders"] or len(out.product_ids) != fp["products"]:
        why = report.reason or f"orders in the index {getattr(out, 'order_count', '?')} ≠ graph {fp['orders']}"
        return None, RefreshReport("rebuild", reason=why, seconds=time.perf_counter() - t0)
    return out, RefreshReport(
        "incremental", report.new_orders, report.new_order_lines, report.new_users, report.new_products,
        time.perf_counter() - t0,
    )  # fmt: skip


def _incremental(index: ServingIndex, conn: GraphConnection, fp: dict[str, Any]) -> tuple[ServingIndex | None, RefreshReport]:  # fmt: skip
    products = list(index.product_ids)
    new_products = [p for p in read_node_ids(conn, Label.PRODUCT) if p not in index.product_row]
    users = list(index.user_ids)
    new_users = (
        [u for u in read_node_ids(conn, Label.USER) if u not in index.user_row] if fp["users"] != len(users) else []
    )
    lines = (
        run(conn, "serving_order_lines_since", since=index.newest_order) if fp["orders"] != index.order_count else []
    )
    products += new_products
    users += new_users
    prow = {p: i for i, p in enumerate(products)}
    urow = {u: i for i, u in enumerate(users)}
    n_old, n = index.num_products, len(products)
    # -- products -------------------------------------------------------------------------------
    facts = read_facts(conn, new_products)
    names = list(index.category_names)
    for f in facts.values():
        names += [c for c in [*f["categories"], *f["direct"]] if c not in names]
    crow = {c: i for i, c in enumerate(names)}
    cat_rows = [index.cat_indices[index.cat_indptr[i] : index.cat_indptr[i + 1]].tolist() for i in range(n_old)]
    dir_rows = [
        index.direct_indices[index.direct_indptr[i] : index.direct_indptr[i + 1]].tolist() for i in range(n_old)
    ]
    empty: dict[str, Any] = {"categories": [], "direct": [], "vector": None, "title": None, "price": None}
    for p in new_products:
        f = facts.get(p, empty)
        cat_rows.append([crow[c] for c in f["categories"]])
        dir_rows.append([crow[c] for c in f["direct"]])
    text = np.vstack(
        [index.text, unit_rows([facts.get(p, empty)["vector"] for p in new_products], index.text.shape[1])]
    )
    pad = n - n_old
    ease = None
    if index.ease is not None:
        ease = np.zeros((n, n), np.float32)
        ease[:n_old, :n_old] = index.ease
    floor = float(index.trend_term.min()) if n_old else 0.0
    # -- orders ---------------------------------------------------------------------------------
    bought: dict[int, set[int]] = defaultdict(set)
    orders: set[str] = set()
    newest = index.newest_order
    for r in lines:
        if r["user_id"] not in urow or r["product_id"] not in prow:
            continue
        bought[urow[r["user_id"]]].add(prow[r["product_id"]])
        orders.add(r["order_id"])
        newest = max(newest, int(r["ts"]))
    touched = sorted({p for items in bought.values() for p in items} | set(range(n_old, n)))
    lists = neighbour_lists(index.neighbours, products) + [[] for _ in new_products]
    if touched:
        lists_new = read_neighbour_lists(conn, [products[r] for r in touched], prow)
        for t in touched:
            lists[t] = lists_new.get(t, [])
    nb = neighbours_from_lists(lists, prow)
    grown = index.evolve(
        product_ids=products,
        titles=[*index.titles, *(facts.get(p, empty)["title"] for p in new_products)],
        prices=np.concatenate([index.prices, np.array([_price(facts.get(p, empty)["price"]) for p in new_products], np.float64)]),
        in_stock=np.concatenate(
            [index.in_stock, np.array([facts.get(p, empty).get("in_stock") is not False for p in new_products], bool)]
        ),
        item_emb=np.vstack([index.item_emb, np.zeros((pad, index.item_emb.shape[1]), np.float32)]),
        known_item=np.concatenate([index.known_item, np.zeros(pad, bool)]),
        text=text,
        ease=ease,
        trend_term=np.concatenate([index.trend_term, np.full(pad, floor, np.float32)]),
        neighbours=nb,
        category_names=names,
        cat_indptr=csr(cat_rows)[0], cat_indices=csr(cat_rows)[1],
        direct_indptr=csr(dir_rows)[0], direct_indices=csr(dir_rows)[1],
    )  # fmt: skip
    item_emb = grown.item_emb
    for i in range(n_old, n):
        vec = text[i] if text.shape[1] and text[i].any() else None
        item_emb[i] = grown.derive_embedding(vec, dir_rows[i], nb.indices[nb.of(i)].tolist())
    # -- users ----------------------------------------------------------------------------------
    hist = [index.history(u).tolist() for u in range(len(index.user_ids))] + [[] for _ in new_users]
    user_emb = np.vstack([index.user_emb, np.zeros((len(new_users), index.user_emb.shape[1]), np.float32)])
    basis = np.concatenate([index.basis, np.zeros(len(new_users), np.int64)])
    for u, items in bought.items():
        fresh = sorted(items - set(hist[u]))
        if not fresh:
            continue
        hist[u] = sorted(set(hist[u]) | set(fresh))
        b = int(basis[u])
        user_emb[u] = (b * user_emb[u] + item_emb[fresh].sum(0)) / (b + len(fresh))
        basis[u] = b + len(fresh)
    hist_ptr, hist_idx = csr(hist)
    out = grown.evolve(
        user_ids=users, user_emb=user_emb, hist_indptr=hist_ptr, hist_indices=hist_idx, basis=basis,
        newest_order=newest, order_count=index.order_count + len(orders), fingerprint=fp,
    )  # fmt: skip
    return out, RefreshReport("incremental", len(orders), len(lines), len(new_users), len(new_products))

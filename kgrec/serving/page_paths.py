"""The rows of ``explain_page`` and ``explain_page_users`` for a page, computed from the path index.

Same rows, same order rules (and so the same reasons) as the two Cypher queries in ``queries/``:

* co-purchase: products ``x`` the user bought with a ``x -BOUGHT_WITH-> p`` link, strongest lift
  first (then orders, then id);
* bundles holding ``p`` with products the user bought (ids in order) or that the user interacted
  with; most owned first;
* shared category / brand / attribute with bought products, and profile attributes of the user
  that ``p`` has; most products first, then deeper category, kind, key;
* customers like you: other buyers of ``p`` who share purchases with the user (besides ``p``),
  most overlap first, and the shared products most of them bought.

Each candidate costs a few array lookups; the user's side (purchase mask, overlap with every other
customer as one sparse product, shared facts) is computed once per page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kgrec.serving.path_index import Lists, PathIndex


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def _count(x: float) -> int | None:
    return None if np.isnan(x) else int(x)


class PagePaths:
    """The explanation rows of one user's page (user side computed once in the constructor)."""

    def __init__(self, index: PathIndex, user_id: str, limit: int) -> None:
        self.ix, self.limit = index, limit
        self.user = index.user_row[user_id]
        bought, counts = index.purchases
        span = bought.span(self.user)
        self.xs = bought.indices[span]  # product rows, in id order
        self.counts = counts[span]
        self.mine = np.zeros(len(index.product_ids), bool)
        self.mine[self.xs] = True
        self.count_of = dict(zip(self.xs.tolist(), self.counts.tolist(), strict=True))
        self.shared = self._shared_facts()
        self.overlap = self._overlap(bought)

    # -- the user's side ----------------------------------------------------------------------
    def _shared_facts(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """kind → (fact row, the user's product with it) per entry, products in id order."""
        out = {}
        for kind, lists in (("category", "product_categories"), ("brand", "product_brands"),
                            ("attribute", "product_attributes")):  # fmt: skip
            facts: Lists = self.ix.fact(lists)
            out[kind] = (facts.gather(self.xs), np.repeat(self.xs, np.diff(facts.indptr)[self.xs]))
        return out

    def _overlap(self, bought: Lists) -> np.ndarray:
        """Products each customer shares with the user (0 for the user)."""
        overlap = np.bincount(self.ix.buyers.gather(self.xs), minlength=len(bought.indptr) - 1)
        overlap[self.user] = 0
        return overlap

    # -- per candidate ------------------------------------------------------------------------
    def row(self, p: int) -> dict[str, Any]:
        """The ``explain_page`` row of product row ``p``."""
        ix = self.ix
        return {"product_id": ix.product_ids[p], "title": ix.titles[p], "copurchase": self._copurchase(p),
                "bundles": self._bundles(p), "shared": self._shared(p)}  # fmt: skip

    def _copurchase(self, p: int) -> list[dict[str, Any]]:
        ix = self.ix
        into, values = ix.bought_with_into
        span = into.span(p)
        src, val = into.indices[span], values[span]
        keep = self.mine[src] & (src != p)
        src, val = src[keep], val[keep]
        if not src.size:
            return []
        lift0, orders0 = np.nan_to_num(val[:, 0], nan=0.0), np.nan_to_num(val[:, 3], nan=0.0)
        order = np.lexsort((src, -orders0, -lift0))[: self.limit]  # src rows are in id order
        count_of = self.count_of
        return [
            {"via_id": ix.product_ids[x], "via_title": ix.titles[x],
             "bought_count": 1 if np.isnan(count_of[x]) else int(count_of[x]),
             "lift": _value(v[0]), "confidence": _value(v[1]), "support": _value(v[2]), "orders": _count(v[3])}
            for x, v in ((int(src[i]), val[i]) for i in order)
        ]  # fmt: skip

    def _bundles(self, p: int) -> list[dict[str, Any]]:
        ix = self.ix
        mine_bundles = set(ix.fact("user_bundles").row(self.user).tolist())
        members: Lists = ix.fact("bundle_products")
        found = []
        for b in ix.fact("product_bundles").row(p).tolist():
            bx = [x for x in members.row(b).tolist() if self.mine[x] and x != p]
            interacted = b in mine_bundles
            if bx or interacted:
                found.append((b, bx, interacted))
        found.sort(key=lambda t: (-len(t[1]), -t[2], ix.bundles[t[0]]["bundle_id"]))
        out = []
        for b, bx, interacted in found[: self.limit]:
            rec = ix.bundles[b]
            out.append({"bundle_id": rec["bundle_id"], "bundle_title": rec["title"], "source": rec["source"],
                        "bundle_size": int(ix.fact("bundle_size")[b]), "owned": len(bx), "interacted": interacted,
                        "via_ids": [ix.product_ids[x] for x in bx[:3]],
                        "via_titles": [ix.titles[x] for x in bx[:3]]})  # fmt: skip
        return out

    def _shared(self, p: int) -> list[dict[str, Any]]:
        ix = self.ix
        groups: list[tuple[str, str, str, int, list[int]]] = []
        for kind, lists, names in (("category", "product_categories", "categories"),
                                   ("brand", "product_brands", "brands"),
                                   ("attribute", "product_attributes", "attributes")):  # fmt: skip
            table = ix.fact(names)
            facts, owners = self.shared[kind]
            for f in ix.fact(lists).row(p).tolist():
                sx = [x for x in owners[facts == f].tolist() if x != p]
                if sx:
                    key = table.values[f]
                    name = key if kind != "attribute" else table.extra[f]
                    level = int(table.extra[f]) if kind == "category" else 0
                    groups.append((kind, key, name, level, sx))
        attributes = ix.fact("attributes")
        own = set(ix.fact("product_attributes").row(p).tolist())
        for a in ix.fact("user_attributes").row(self.user).tolist():
            if a in own:
                groups.append(("profile", attributes.values[a], attributes.extra[a], 0, []))
        groups.sort(key=lambda g: (-len(g[4]), -g[3], g[0], g[1]))
        return [
            {"kind": kind, "shared_key": key, "shared_name": name, "level": level, "products": len(sx),
             "via_ids": [ix.product_ids[x] for x in sx[:3]], "via_titles": [ix.titles[x] for x in sx[:3]]}
            for kind, key, name, level, sx in groups[: self.limit]
        ]  # fmt: skip

    def similar_users(self, p: int) -> dict[str, Any] | None:
        """The ``explain_page_users`` row of product row ``p`` (None: no customer like the user bought it)."""
        ix = self.ix
        buyers = ix.buyers.row(p)
        overlap = self.overlap[buyers] - (1 if self.mine[p] else 0)
        keep = (buyers != self.user) & (overlap > 0)
        users, overlap = buyers[keep], overlap[keep]
        if not users.size:
            return None
        order = np.lexsort((users, -overlap))  # user rows are in id order
        counts = np.bincount(ix.purchases[0].gather(users), minlength=len(ix.product_ids))[self.xs]
        counts[self.xs == p] = 0  # how many of them bought each of the user's products (but p)
        shared = np.flatnonzero(counts)
        best = shared[np.lexsort((shared, -counts[shared]))[: self.limit]]  # xs are in id order
        top = [(int(self.xs[i]), int(counts[i])) for i in best]
        return {
            "product_id": ix.product_ids[p], "similar_users": int(users.size),
            "max_overlap": int(overlap[order[0]]), "buyers": int(buyers.size),
            "top_users": [{"user_id": ix.user_ids[int(users[i])], "overlap": int(overlap[i])} for i in order[: self.limit]],
            "shared_products": int(shared.size),
            "top_shared": [{"product_id": ix.product_ids[x], "title": ix.titles[x], "users": n} for x, n in top],
        }  # fmt: skip


def page_rows(index: PathIndex, user_id: str, product_ids: Sequence[str], limit: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:  # fmt: skip
    """(``explain_page`` rows, ``explain_page_users`` rows by product id) for the products of
    ``product_ids`` that the index holds, in order."""
    page = PagePaths(index, user_id, limit)
    rows, similar = [], {}
    for pid in dict.fromkeys(product_ids):
        p = index.product_row.get(pid)
        if p is None:
            continue
        rows.append(page.row(p))
        found = page.similar_users(p)
        if found is not None:
            similar[pid] = found
    return rows, similar

"""Why was this product recommended? Graph paths turned into ranked, human-readable reasons.

Each path query (``explain_*.cypher``) yields candidate reasons with a strength in [0, 1] and the
node path that supports it. Reasons are ranked by strength with diversity first (the best reason
of each kind before a second reason of any kind); when no path supports the product, a
popularity reason is given instead. docs/explanations.md describes the scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError
from kgrec.kg.schema import Label
from kgrec.queries.results import PopularityInfo, product_popularity, user_summary
from kgrec.queries.runner import QueryParameterError, run, run_one


@dataclass(frozen=True)
class PathNode:
    """One node of a supporting path."""

    label: str
    id: str


@dataclass(frozen=True)
class Reason:
    """One reason: its kind, a sentence, a strength in [0, 1] and the path that supports it."""

    kind: str
    text: str
    strength: float
    path: tuple[PathNode, ...]
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    """The ranked reasons for recommending ``product_id`` to ``user_id`` (or to a basket)."""

    product_id: str
    product_title: str | None
    reasons: list[Reason]
    user_id: str | None = None
    basket: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return self.reasons[0].text if self.reasons else ""


def _user(uid: str) -> PathNode:
    return PathNode(Label.USER.value, uid)


def _product(pid: str) -> PathNode:
    return PathNode(Label.PRODUCT.value, pid)


def _saturate(x: float, scale: float) -> float:
    """0 at x=0, rising towards 1 (0.63 at x=scale)."""
    return 1.0 - math.exp(-max(x, 0.0) / scale)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _name(title: str | None, pid: str) -> str:
    return title or pid


# -- reason builders ------------------------------------------------------------------------------
def copurchase_strength(lift: float | None, orders: int | None) -> float:
    """0.9 × (1 − 1/lift) × (0.5 + 0.5·min(1, orders/10)); lift ≤ 1 (no association) gives 0."""
    lift_part = 1.0 - 1.0 / lift if lift and lift > 1.0 else 0.0
    support_part = 0.5 + 0.5 * min(1.0, (orders or 0) / 10.0)
    return round(0.9 * lift_part * support_part, 4)


def _copurchase_text(via: str, title: str, lift: float | None, orders: int | None, subject: str) -> str:
    stats = [f"lift {lift:.1f}" if lift is not None else "", f"in {_plural(orders, 'order')}" if orders else ""]
    details = ", ".join(s for s in stats if s)
    return f"{subject} {via}, which is often bought with {title}" + (f" ({details})" if details else "")


def _copurchase_reasons(rows: Iterable[dict[str, Any]], user_id: str, pid: str, title: str) -> list[Reason]:
    return [
        Reason(
            "copurchase",
            _copurchase_text(_name(r["via_title"], r["via_id"]), title, r["lift"], r["orders"], "You bought"),
            copurchase_strength(r["lift"], r["orders"]),
            (_user(user_id), _product(r["via_id"]), _product(pid)),
            {k: r[k] for k in ("via_id", "lift", "confidence", "support", "orders", "bought_count")},
        )
        for r in rows
    ]


def _similar_users_reason(row: dict[str, Any] | None, user_id: str, pid: str) -> list[Reason]:
    if not row or not row["similar_users"]:
        return []
    n, overlap, buyers = row["similar_users"], row["max_overlap"] or 1, max(row["buyers"] or 1, 1)
    top = row["top_shared"][0]
    example = _name(top["title"], top["product_id"])
    if overlap >= 2:
        text = f"Customers who bought {overlap} of your products also bought it ({_plural(n, 'customer')} like you)"
    else:
        text = f"{_plural(n, 'customer')} who bought {example}, as you did, also bought it"
    strength = 0.8 * (0.5 * _saturate(n, 5.0) + 0.5 * min(1.0, n / buyers)) * (0.5 + 0.5 * min(1.0, overlap / 3))
    path = (_user(user_id), _product(top["product_id"]), _user(row["top_users"][0]["user_id"]), _product(pid))
    evidence = {k: row[k] for k in ("similar_users", "max_overlap", "buyers", "shared_products", "top_shared")}
    return [Reason("similar_users", text, round(strength, 4), path, evidence)]


_SHARED_WEIGHT = {"category": 0.5, "brand": 0.45, "attribute": 0.35, "profile": 0.3}
_SHARED_LABEL = {
    "category": Label.CATEGORY, "brand": Label.BRAND, "attribute": Label.ATTRIBUTE, "profile": Label.ATTRIBUTE,
}  # fmt: skip


def _shared_text(kind: str, name: str, products: int, example: str) -> str:
    what = f"{example}, which you bought" if products == 1 else f"{products} products you bought, e.g. {example}"
    if kind == "category":
        return f"Same category ({name}) as {what}"
    if kind == "brand":
        return f"Same brand ({name}) as {what}"
    if kind == "attribute":
        return f"Shares {name} with {what}"
    return f"Matches your profile: {name}"


def _shared_reasons(rows: Iterable[dict[str, Any]], user_id: str, pid: str) -> list[Reason]:
    reasons = []
    for r in rows:
        kind, products = r["kind"], r["products"]
        shared = PathNode(_SHARED_LABEL[kind].value, r["shared_key"])
        if kind == "profile":
            path: tuple[PathNode, ...] = (_user(user_id), shared, _product(pid))
            strength = _SHARED_WEIGHT[kind]
            text = _shared_text(kind, r["shared_name"].replace("_", " "), 0, "")
        else:
            strength = _SHARED_WEIGHT[kind] * _saturate(products, 2.0)
            path = (_user(user_id), _product(r["via_ids"][0]), shared, _product(pid))
            name = r["shared_name"].replace("_", " ")
            text = _shared_text(kind, name, products, _name(r["via_titles"][0], r["via_ids"][0]))
        evidence = {k: r[k] for k in ("shared_key", "products", "via_ids", "level")}
        reasons.append(Reason(kind, text, round(strength, 4), path, evidence))
    return reasons


def _bundle_reasons(rows: Iterable[dict[str, Any]], user_id: str, pid: str) -> list[Reason]:
    reasons = []
    for r in rows:
        bundle = _name(r["bundle_title"], r["bundle_id"])
        owned, others = r["owned"], max(r["bundle_size"] - 1, 1)
        strength = 0.75 * min(1.0, owned / others)
        if owned:
            via = _name(r["via_titles"][0], r["via_ids"][0])
            more = f" and {_plural(owned - 1, 'other product')}" if owned > 1 else ""
            text = f"It is in the bundle “{bundle}” with {via}{more}, which you bought"
            bundle_node = PathNode(Label.BUNDLE.value, r["bundle_id"])
            path: tuple[PathNode, ...] = (_user(user_id), _product(r["via_ids"][0]), bundle_node, _product(pid))
        else:
            text = f"It is part of the bundle “{bundle}”, which you looked at"
            path = (_user(user_id), PathNode(Label.BUNDLE.value, r["bundle_id"]), _product(pid))
        if r["interacted"]:
            strength = max(strength, 0.5)
        evidence = {k: r[k] for k in ("bundle_id", "bundle_size", "owned", "interacted", "via_ids")}
        reasons.append(Reason("bundle", text, round(strength, 4), path, evidence))
    return reasons


def popularity_reason(info: PopularityInfo) -> Reason:
    """The fallback: how popular the product is (weak on purpose: 0.05–0.2)."""
    if info.buyers == 0:
        return Reason(
            "model",
            "Suggested by the model: no purchase path in the graph supports it yet",
            0.0,
            (_product(info.product_id),),
            {"buyers": 0},
        )
    share = 1.0 - (info.rank - 1) / max(info.products, 1)
    text = f"Popular: bought by {_plural(info.buyers, 'customer')} (#{info.rank} of {info.products} products)"
    evidence = {"buyers": info.buyers, "rank": info.rank, "products": info.products}
    return Reason("popularity", text, round(0.05 + 0.15 * share, 4), (_product(info.product_id),), evidence)


def rank_reasons(reasons: Sequence[Reason], limit: int) -> list[Reason]:
    """Strongest first, but the best reason of each kind before any kind's second reason."""
    ordered = sorted(reasons, key=lambda r: (-r.strength, r.kind, r.text))
    firsts: list[Reason] = []
    rest: list[Reason] = []
    seen: set[str] = set()
    for reason in ordered:
        (rest if reason.kind in seen else firsts).append(reason)
        seen.add(reason.kind)
    return (firsts + rest)[:limit]


# -- entry points ---------------------------------------------------------------------------------
def _title(conn: GraphConnection, product_id: str) -> str:
    """The product's title (its id when untitled); UnknownEntityError when it is not in the graph."""
    row = run_one(conn, "product_titles", product_ids=[product_id])
    if row is None:
        raise UnknownEntityError(f"product {product_id!r} is not in the graph (search with /products/search?q=...)")
    return _name(row["title"], product_id)


def explain(conn: GraphConnection, user_id: str, product_id: str, limit: int = 3) -> Explanation:
    """Ranked reasons why ``product_id`` suits ``user_id``; UnknownEntityError for unknown ids."""
    if limit < 1:
        raise QueryParameterError(f"limit must be at least 1, got {limit}")
    title = _title(conn, product_id)
    user_summary(conn, user_id)
    params = {"user_id": user_id, "product_id": product_id, "limit": max(limit, 3)}
    reasons = (
        _copurchase_reasons(run(conn, "explain_copurchase", **params), user_id, product_id, title)
        + _similar_users_reason(run_one(conn, "explain_similar_users", **params), user_id, product_id)
        + _bundle_reasons(run(conn, "explain_bundle", **params), user_id, product_id)
        + _shared_reasons(run(conn, "explain_shared_category", **params), user_id, product_id)
    )
    reasons = [r for r in reasons if r.strength > 0] or [popularity_reason(product_popularity(conn, product_id))]
    return Explanation(product_id, title, rank_reasons(reasons, limit), user_id=user_id)


def _basket_reasons(rows: Iterable[dict[str, Any]], pid: str, title: str) -> list[Reason]:
    reasons = []
    for r in rows:
        via = _name(r["via_title"], r["via_id"])
        if r["kind"] == "copurchase":
            text = _copurchase_text(via, title, r["lift"], r["orders"], "Your basket has")
            strength = copurchase_strength(r["lift"], r["orders"])
            path: tuple[PathNode, ...] = (_product(r["via_id"]), _product(pid))
        elif r["kind"] == "bundle":
            text, strength = f"It completes the bundle “{r['shared_name']}” with {via} from your basket", 0.5
            path = (_product(r["via_id"]), PathNode(Label.BUNDLE.value, r["shared_key"]), _product(pid))
        else:
            text, strength = f"Same category ({r['shared_name']}) as {via} in your basket", 0.25
            path = (_product(r["via_id"]), PathNode(Label.CATEGORY.value, r["shared_key"]), _product(pid))
        evidence = {k: r[k] for k in ("via_id", "lift", "confidence", "orders", "shared_key")}
        reasons.append(Reason(r["kind"], text, round(strength, 4), path, evidence))
    return reasons


def explain_basket(
    conn: GraphConnection, basket_product_ids: Sequence[str], product_id: str, limit: int = 3
) -> Explanation:
    """Ranked reasons why ``product_id`` completes a basket of products."""
    basket = tuple(dict.fromkeys(basket_product_ids))
    if not basket:
        raise QueryParameterError("the basket is empty: give at least one product id")
    title = _title(conn, product_id)
    rows = run(conn, "explain_basket", product_ids=list(basket), product_id=product_id, limit=max(3 * limit, 10))
    reasons = [r for r in _basket_reasons(rows, product_id, title) if r.strength > 0]
    ranked = rank_reasons(reasons or [popularity_reason(product_popularity(conn, product_id))], limit)
    return Explanation(product_id, title, ranked, basket=basket)


# -- a page at once (serving): one or two batched queries for every candidate ---------------------
Popularity = Callable[[str, str | None], PopularityInfo]


def _fallback(conn: GraphConnection, pid: str, title: str | None, popularity: Popularity | None) -> Reason:
    info = popularity(pid, title) if popularity is not None else product_popularity(conn, pid)
    return popularity_reason(info)


def explain_many(
    conn: GraphConnection,
    user_id: str,
    product_ids: Sequence[str],
    limit: int = 3,
    popularity: Popularity | None = None,
) -> dict[str, Explanation]:
    """:func:`explain` for a page of products in two queries (``explain_page``, ``explain_page_users``).

    Products not in the graph are left out of the answer; an unknown user raises UnknownEntityError.
    ``popularity`` (id, title → PopularityInfo) replaces the per-product fallback query when given.
    """
    if limit < 1:
        raise QueryParameterError(f"limit must be at least 1, got {limit}")
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    params = {"user_id": user_id, "product_ids": ids, "limit": page_query_limit(limit)}
    rows = run(conn, "explain_page", **params, links_per_product=LINKS_PER_PRODUCT)
    if not rows:
        user_summary(conn, user_id)  # UnknownEntityError for an unknown user; else none of the products exist
        return {}
    similar = {r["product_id"]: r for r in run(conn, "explain_page_users", **params)}
    return page_explanations(rows, similar, user_id, limit, lambda pid, title: _fallback(conn, pid, title, popularity))


#: A page's co-purchase reasons come from each candidate's this many strongest links (by lift): the
#: links worth showing, and a bound on what the serving layer's path index holds per product.
LINKS_PER_PRODUCT = 100


def page_query_limit(limit: int) -> int:
    """How many rows of each kind the page queries return for ``limit`` reasons per product."""
    return max(limit, 3)


def page_explanations(
    rows: Iterable[dict[str, Any]],
    similar: dict[str, dict[str, Any]],
    user_id: str,
    limit: int,
    fallback: Callable[[str, str | None], Reason],
) -> dict[str, Explanation]:
    """Explanations from ``explain_page`` rows and ``explain_page_users`` rows (by product id), from
    Cypher or from the serving layer's path index (:mod:`kgrec.serving.page_paths`);
    ``fallback(product_id, title)`` gives the reason of a product no path supports."""
    out: dict[str, Explanation] = {}
    for r in rows:
        pid = r["product_id"]
        title = _name(r["title"], pid)
        reasons = (
            _copurchase_reasons(r["copurchase"], user_id, pid, title)
            + _similar_users_reason(similar.get(pid), user_id, pid)
            + _bundle_reasons(r["bundles"], user_id, pid)
            + _shared_reasons(r["shared"], user_id, pid)
        )
        reasons = [x for x in reasons if x.strength > 0] or [fallback(pid, r["title"])]
        out[pid] = Explanation(pid, title, rank_reasons(reasons, limit), user_id=user_id)
    return out


def explain_basket_many(
    conn: GraphConnection,
    basket_product_ids: Sequence[str],
    product_ids: Sequence[str],
    limit: int = 3,
    popularity: Popularity | None = None,
) -> dict[str, Explanation]:
    """:func:`explain_basket` for a page of candidates in one query (``explain_basket_page``)."""
    basket = tuple(dict.fromkeys(basket_product_ids))
    if not basket:
        raise QueryParameterError("the basket is empty: give at least one product id")
    ids = list(dict.fromkeys(product_ids))
    if not ids:
        return {}
    out: dict[str, Explanation] = {}
    for r in run(conn, "explain_basket_page", product_ids=list(basket), candidate_ids=ids, limit=max(3 * limit, 10)):
        pid, title = r["product_id"], _name(r["title"], r["product_id"])
        reasons = [x for x in _basket_reasons(r["rows"], pid, title) if x.strength > 0]
        ranked = rank_reasons(reasons or [_fallback(conn, pid, r["title"], popularity)], limit)
        out[pid] = Explanation(pid, title, ranked, basket=basket)
    return out

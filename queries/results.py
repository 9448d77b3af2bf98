"""Typed access to the named queries: one small function per question, frozen dataclasses out.

These are what the API, the CLI and explanations call; the untyped ``runner.run`` stays available
for ``kgrec query``. Unknown ids raise ``UnknownEntityError`` with the id in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError
from kgrec.kg.schema import Label, Rel
from kgrec.queries.runner import QueryParameterError, run, run_one


@dataclass(frozen=True)
class ProductHit:
    """A product found by full-text search or listed by popularity/co-purchase."""

    product_id: str
    title: str | None
    price: float | None = None
    score: float | None = None


@dataclass(frozen=True)
class CoPurchase:
    """A co-purchase neighbour of a product (outgoing BOUGHT_WITH)."""

    product_id: str
    title: str | None
    price: float | None
    lift: float | None
    confidence: float | None
    support: float | None
    orders: int | None


@dataclass(frozen=True)
class ProductDetail:
    """A product with its context in the graph."""

    product_id: str
    title: str | None
    description: str | None
    price: float | None
    categories: list[str]
    brands: list[str]
    attributes: list[dict[str, Any]]
    bundles: list[str]
    buyers: int
    bought_with: list[CoPurchase] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryItem:
    """A product a user bought."""

    product_id: str
    title: str | None
    price: float | None
    count: int
    quantity: int | None
    first: str | None
    last: str | None


@dataclass(frozen=True)
class UserSummary:
    """A user's activity counts."""

    user_id: str
    purchased: int
    orders: int
    rated: int
    viewed: int
    bundles: int
    attributes: list[str]


@dataclass(frozen=True)
class GraphNode:
    """A node for the explorer; ``uid`` ("Label:id") is unique across labels, ``id`` is its key."""

    uid: str
    id: str
    label: str
    caption: str


@dataclass(frozen=True)
class GraphEdge:
    """A relationship between two explorer nodes (by ``uid``)."""

    source: str
    target: str
    type: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Neighbourhood:
    """A node, up to ``limit`` neighbours, the edges between them and the node's full degree."""

    center: GraphNode
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    degree: int


@dataclass(frozen=True)
class PopularityInfo:
    """How many customers bought a product and its rank (1 = most bought) among ``products``."""

    product_id: str
    title: str | None
    buyers: int
    rank: int
    products: int


def _hit(row: dict[str, Any]) -> ProductHit:
    return ProductHit(row["product_id"], row.get("title"), row.get("price"), row.get("score"))


def lucene_query(text: str) -> str:
    """Plain words → a safe Lucene query: every word, the last one also as a prefix (type-ahead)."""
    words = re.findall(r"\w+", text.lower())
    if not words:
        raise QueryParameterError(f"search text {text!r} has no words to look for")
    terms = list(words)
    if len(words[-1]) >= 2:
        terms.append(f"{words[-1]}*")
    return " ".join(terms)


def search_products(conn: GraphConnection, text: str, limit: int = 10) -> list[ProductHit]:
    """Products whose title or description match ``text`` (full-text index), best first."""
    return [_hit(r) for r in run(conn, "search_products", q=lucene_query(text), limit=limit)]


def popular_products(conn: GraphConnection, limit: int = 10, exclude_user_id: str | None = None) -> list[ProductHit]:
    """Most-bought products; ``score`` is the number of buyers."""
    rows = run(conn, "popular_products", limit=limit, user_id=exclude_user_id)
    return [ProductHit(r["product_id"], r["title"], r["price"], float(r["buyers"])) for r in rows]


def bought_with(conn: GraphConnection, product_id: str, limit: int = 10, min_lift: float = 0.0) -> list[CoPurchase]:
    """Co-purchase neighbours of a product, highest lift first."""
    return [CoPurchase(**r) for r in run(conn, "bought_with", product_id=product_id, limit=limit, min_lift=min_lift)]


def product_detail(conn: GraphConnection, product_id: str, with_bought_with: int = 5) -> ProductDetail:
    """One product in context; raises UnknownEntityError when it is not in the graph."""
    row = run_one(conn, "product_detail", product_id=product_id)
    if row is None:
        raise UnknownEntityError(f"product {product_id!r} is not in the graph (search with /products/search?q=...)")
    neighbours = bought_with(conn, product_id, limit=with_bought_with) if with_bought_with > 0 else []
    return ProductDetail(**row, bought_with=neighbours)


def user_summary(conn: GraphConnection, user_id: str) -> UserSummary:
    """A user's activity; raises UnknownEntityError when the user is not in the graph."""
    row = run_one(conn, "user_summary", user_id=user_id)
    if row is None:
        raise UnknownEntityError(f"user {user_id!r} is not in the graph (check the id, or ingest their orders)")
    return UserSummary(**row)


def user_history(conn: GraphConnection, user_id: str, limit: int = 50) -> list[HistoryItem]:
    """Products the user bought, most recent first."""
    return [HistoryItem(**r) for r in run(conn, "user_history", user_id=user_id, limit=limit)]


def product_popularity(conn: GraphConnection, product_id: str) -> PopularityInfo:
    """Buyers and rank of a product; raises UnknownEntityError when it is not in the graph."""
    row = run_one(conn, "product_popularity", product_id=product_id)
    if row is None:
        raise UnknownEntityError(f"product {product_id!r} is not in the graph")
    return PopularityInfo(**row)


def neighbourhood(conn: GraphConnection, label: str, node_id: str, limit: int = 25) -> Neighbourhood:
    """A node of ``label`` (a kg.schema label) and its neighbours; UnknownEntityError if absent."""
    try:
        label = Label(label).value
    except ValueError:
        raise QueryParameterError(
            f"label {label!r} is not a node label; use one of {', '.join(known.value for known in Label)}"
        ) from None
    if limit < 1 or limit > 500:
        raise QueryParameterError(f"limit must be between 1 and 500, got {limit}")
    row = run_one(conn, "neighbourhood", label=label, id=node_id, limit=limit)
    if row is None:
        raise UnknownEntityError(f"no {label} with id {node_id!r} in the graph")
    return Neighbourhood(
        center=GraphNode(**row["center"]),
        nodes=[GraphNode(**n) for n in row["nodes"]],
        edges=[GraphEdge(**e) for e in row["edges"]],
        degree=row["degree"],
    )


def graph_overview(conn: GraphConnection) -> dict[str, dict[str, int]]:
    """``{"nodes": {label: n}, "relationships": {type: n}}``."""
    row = run_one(conn, "graph_overview") or {"nodes": {}, "relationships": {}}
    return {
        "nodes": {label.value: row["nodes"].get(label.value, 0) for label in Label},
        "relationships": {rel.value: row["relationships"].get(rel.value, 0) for rel in Rel},
    }

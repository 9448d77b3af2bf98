"""Batched, idempotent writes of accepted canonical rows (UNWIND + MERGE on each node's key).

Writing the same rows twice changes nothing: nodes and relationships are MERGEd on their keys,
properties are SET (not incremented), and event relationships (VIEWED, ADDED_TO_CART,
INTERACTED_WITH, the direct part of PURCHASED) keep the distinct event times they have seen, so
their ``count`` is recomputed from that set. PURCHASED is derived: ``recompute_purchased`` rebuilds
it for the users an ingest touched, from their orders plus their direct purchase events.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from kgrec.ingest.canonical import (
    CATEGORY_SEPARATOR,
    DERIVED_ATTR_PREFIX,
    LINE,
    MULTI_VALUE_SEPARATOR,
    SPECS,
    attribute_name,
    extra_columns,
    sanitize_property,
)
from kgrec.kg.connection import GraphConnection, WriteSummary
from kgrec.kg.schema import Label, Rel

Progress = Callable[[int], None] | None

P, U, O, C, B, A, BR = (  # noqa: E741 (replaced by the Cypher vocabulary module)
    Label.PRODUCT.value,
    Label.USER.value,
    Label.ORDER.value,
    Label.CATEGORY.value,
    Label.BUNDLE.value,
    Label.ATTRIBUTE.value,
    Label.BRAND.value,
)

EVENT_RELS: dict[str, str] = {"view": Rel.VIEWED.value, "cart": Rel.ADDED_TO_CART.value}

# -- row building ---------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    """NaN/empty → None, numpy scalars → Python."""
    if isinstance(value, str):
        return value or None
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _typed_column(series: pd.Series) -> pd.Series:
    """Extra column values as int, float or str, decided per column.

    A column is numeric when every non-empty value is a number and none has a leading zero (so
    codes such as zip ``01002`` stay text).
    """
    filled = series[series != ""]
    numbers = pd.to_numeric(filled, errors="coerce")
    if len(filled) and numbers.notna().all() and not filled.str.match(r"^[-+]?0\d").any():
        if (numbers == numbers.round()).all() and not filled.str.contains(r"[.eE]").any():
            return pd.to_numeric(series.where(series != "", None), errors="coerce").astype("Int64").astype(object)
        return pd.to_numeric(series.where(series != "", None), errors="coerce").astype(object)
    return series


def props_column(frame: pd.DataFrame, name: str) -> list[dict[str, Any]]:
    """One property map per row from the file's extra columns (empty values left out)."""
    extras = extra_columns(SPECS[name], frame)
    if not extras:
        return [{} for _ in range(len(frame))]
    typed = pd.DataFrame({sanitize_property(c): _typed_column(frame[c]) for c in extras}, index=frame.index)
    return [{k: c for k, v in row.items() if (c := _clean(v)) is not None} for row in typed.to_dict(orient="records")]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


# -- nodes ----------------------------------------------------------------------------------------


def write_products(
    conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None
) -> WriteSummary:
    """Product nodes with title, description, price and extra columns as properties."""
    rows = _records(frame[["product_id", "title", "description", "price"]])
    for row, props in zip(rows, props_column(frame, "products"), strict=True):
        row["title"] = row["title"] or ""
        row["description"] = row["description"] or ""
        row["props"] = props
    cypher = (
        f"UNWIND $rows AS r MERGE (p:{P} {{id: r.product_id}}) "
        "SET p.title = r.title, p.description = r.description, p.price = r.price SET p += r.props"
    )
    total = conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)
    total += write_categories(conn, frame, batch_size)
    total += write_brands(conn, frame, batch_size)
    return total + write_attributes(conn, frame, P, "product_id", batch_size)


def write_categories(conn: GraphConnection, frame: pd.DataFrame, batch_size: int) -> WriteSummary:
    """The category tree (every prefix of every path) and IN_CATEGORY to each product's leaf paths."""
    linked = frame.loc[frame["category"] != "", ["product_id", "category", "category_derived"]]
    if linked.empty:
        return WriteSummary()
    linked = linked.assign(category=linked["category"].str.split(MULTI_VALUE_SEPARATOR)).explode("category")
    nodes: dict[str, bool] = {}
    for path, derived in linked.groupby("category")["category_derived"].all().items():
        parts = str(path).split(CATEGORY_SEPARATOR)
        for depth in range(1, len(parts) + 1):
            prefix = CATEGORY_SEPARATOR.join(parts[:depth])
            nodes[prefix] = nodes.get(prefix, True) and bool(derived)
    rows = [
        {
            "path": p,
            "name": p.split(CATEGORY_SEPARATOR)[-1],
            "level": p.count(CATEGORY_SEPARATOR),
            "parent": p.rsplit(CATEGORY_SEPARATOR, 1)[0] if CATEGORY_SEPARATOR in p else None,
            "derived": d,
        }
        for p, d in sorted(nodes.items())
    ]
    total = conn.write_batches(
        f"UNWIND $rows AS r MERGE (c:{C} {{path: r.path}}) SET c.name = r.name, c.level = r.level, "
        "c.derived = r.derived",
        rows,
        batch_size=batch_size,
    )
    total += conn.write_batches(
        f"UNWIND $rows AS r MATCH (c:{C} {{path: r.path}}), (parent:{C} {{path: r.parent}}) "
        f"MERGE (c)-[:{Rel.CHILD_OF.value}]->(parent)",
        [r for r in rows if r["parent"]],
        batch_size=batch_size,
    )
    links = linked.groupby("product_id", sort=False)["category"].agg(list)
    rows = [{"id": i, "targets": t} for i, t in links.items()]
    return total + _replace_links(conn, P, Rel.IN_CATEGORY.value, C, "path", rows, batch_size)


def write_brands(conn: GraphConnection, frame: pd.DataFrame, batch_size: int) -> WriteSummary:
    """Brand nodes and each product's MADE_BY link."""
    linked = frame[frame["brand"].str.strip() != ""]
    links = [{"id": i, "targets": [b.strip()]} for i, b in zip(linked["product_id"], linked["brand"], strict=True)]
    if not links:
        return WriteSummary()
    total = conn.write_batches(
        f"UNWIND $rows AS r MERGE (:{BR} {{name: r.name}})",
        [{"name": n} for n in sorted({r["targets"][0] for r in links})],
        batch_size=batch_size,
    )
    return total + _replace_links(conn, P, Rel.MADE_BY.value, BR, "name", links, batch_size)


# Far ends of expansions carry no label on purpose: right after a bulk change the planner's
# statistics can be stale, and a label there invites a label scan instead of expanding from the
# already bound node (seen as 10-20x slower first writes). The relationship type implies the label.


def _replace_links(
    conn: GraphConnection,
    source: str,
    rel: str,
    target: str,
    target_key: str,
    rows: list[dict[str, Any]],
    batch_size: int,
) -> WriteSummary:
    """Make each source node's ``rel`` links exactly its ``targets`` (links to other targets removed)."""
    cypher = (
        f"UNWIND $rows AS r MATCH (s:{source} {{id: r.id}}) "
        f"CALL (s, r) {{ MATCH (s)-[old:{rel}]->(t) WHERE NOT t.{target_key} IN r.targets "
        "DELETE old } "
        f"CALL (s, r) {{ UNWIND r.targets AS key MATCH (t:{target} {{{target_key}: key}}) "
        f"MERGE (s)-[:{rel}]->(t) }}"
    )
    return conn.write_batches(cypher, rows, batch_size=batch_size)


def write_attributes(
    conn: GraphConnection, frame: pd.DataFrame, owner: str, id_column: str, batch_size: int
) -> WriteSummary:
    """``attr:``/``dattr:`` columns → Attribute nodes and HAS_ATTRIBUTE links.

    For each attribute name present in the input, an owner's links are replaced by the given
    values, so a corrected value does not leave the old one behind.
    """
    columns = [c for c in frame.columns if attribute_name(c) is not None]
    if not columns:
        return WriteSummary()
    parts = []
    for column in columns:
        values = frame[[id_column, column]].rename(columns={id_column: "owner", column: "value"})
        values = values.assign(value=values["value"].str.split(MULTI_VALUE_SEPARATOR)).explode("value")
        values["value"] = values["value"].str.strip().str.lower()
        parts.append(
            values[values["value"] != ""].assign(
                name=attribute_name(column), derived=column.startswith(DERIVED_ATTR_PREFIX)
            )
        )
    long = pd.concat(parts, ignore_index=True)
    long["key"] = long["name"] + "=" + long["value"]
    nodes = long.drop_duplicates("key")[["key", "name", "value", "derived"]]
    total = conn.write_batches(
        f"UNWIND $rows AS r MERGE (a:{A} {{key: r.key}}) SET a.name = r.name, a.value = r.value, a.derived = r.derived",
        _records(nodes),
        batch_size=batch_size,
    )
    names = sorted({attribute_name(c) for c in columns if c})
    keys = long.groupby("owner")["key"].agg(lambda s: sorted(set(s)))
    owners = [{"id": o, "names": names, "keys": keys.get(o, [])} for o in frame[id_column].unique()]
    cypher = (
        f"UNWIND $rows AS r MATCH (o:{owner} {{id: r.id}}) "
        f"CALL (o, r) {{ MATCH (o)-[h:{Rel.HAS_ATTRIBUTE.value}]->(a) "
        "WHERE a.name IN r.names AND NOT a.key IN r.keys DELETE h } "
        f"CALL (o, r) {{ UNWIND r.keys AS k MATCH (a:{A} {{key: k}}) "
        f"MERGE (o)-[:{Rel.HAS_ATTRIBUTE.value}]->(a) }}"
    )
    return total + conn.write_batches(cypher, owners, batch_size=max(1, batch_size // 10))


def write_users(conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None) -> WriteSummary:
    """User nodes with their extra columns as properties and ``attr:`` columns as attributes."""
    rows = [{"id": i, "props": p} for i, p in zip(frame["user_id"], props_column(frame, "users"), strict=True)]
    total = conn.write_batches(
        f"UNWIND $rows AS r MERGE (u:{U} {{id: r.id}}) SET u += r.props", rows, batch_size=batch_size, on_batch=progress
    )
    return total + write_attributes(conn, frame, U, "user_id", batch_size)


def write_orders(
    conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None
) -> WriteSummary:
    """Order nodes (timestamp as DateTime), their users, and PLACED."""
    rows = [
        {"id": o, "user_id": u, "ts": t, "props": p}
        for o, u, t, p in zip(
            frame["order_id"], frame["user_id"], frame["timestamp"], props_column(frame, "orders"), strict=True
        )
    ]
    cypher = (
        f"UNWIND $rows AS r MERGE (u:{U} {{id: r.user_id}}) MERGE (o:{O} {{id: r.id}}) "
        "SET o.timestamp = datetime(r.ts) SET o += r.props "
        f"MERGE (u)-[:{Rel.PLACED.value}]->(o)"
    )
    return conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)


def write_order_items(
    conn: GraphConnection,
    frame: pd.DataFrame,
    batch_size: int,
    progress: Progress = None,
    new_orders: set[str] | None = None,
) -> WriteSummary:
    """CONTAINS {quantity, price} from each order to its products.

    Items of ``new_orders`` (orders this ingest created, so without any CONTAINS yet) are CREATEd,
    grouped per order; all other items are MERGEd, so rewriting an existing order stays idempotent.
    """
    fresh = frame["order_id"].isin(new_orders) if new_orders else pd.Series(False, index=frame.index)
    extras = bool(extra_columns(SPECS["order_items"], frame))
    set_extras = " SET c += {0}.props" if extras else ""
    total = WriteSummary()
    if fresh.any():
        part = frame[fresh]
        rows: list[dict[str, Any]] = []
        for order, group in part.groupby("order_id", sort=False):
            rows.append({"order_id": order, "items": _item_rows(group, extras)})
        per_batch = max(1, int(batch_size * len(rows) / len(part)))
        cypher = (
            f"UNWIND $rows AS r MATCH (o:{O} {{id: r.order_id}}) WITH o, r UNWIND r.items AS i "
            f"MATCH (p:{P} {{id: i.product_id}}) "
            f"CREATE (o)-[c:{Rel.CONTAINS.value} {{quantity: i.quantity, price: i.price}}]->(p)"
            + set_extras.format("i")
        )
        on_batch = (lambda n: progress(n * len(part) // len(rows))) if progress else None
        total += conn.write_batches(cypher, rows, batch_size=per_batch, on_batch=on_batch)
    rows = _item_rows(frame[~fresh], extras, with_order=True)
    cypher = (
        f"UNWIND $rows AS r MATCH (o:{O} {{id: r.order_id}}) MATCH (p:{P} {{id: r.product_id}}) "
        f"MERGE (o)-[c:{Rel.CONTAINS.value}]->(p) SET c.quantity = r.quantity, c.price = r.price"
        + set_extras.format("r")
    )
    return total + conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)


def _item_rows(frame: pd.DataFrame, extras: bool, with_order: bool = False) -> list[dict[str, Any]]:
    """Order item rows (product, quantity, price) plus their extra columns as ``props`` if any."""
    rows = _records(frame[[*(["order_id"] if with_order else []), "product_id", "quantity", "price"]])
    if extras:
        for row, props in zip(rows, props_column(frame, "order_items"), strict=True):
            row["props"] = props
    return rows


def write_bundles(
    conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None
) -> WriteSummary:
    """Bundle nodes (source 'given') with title and extra properties."""
    rows = [
        {"id": i, "title": t, "props": p}
        for i, t, p in zip(frame["bundle_id"], frame["title"], props_column(frame, "bundles"), strict=True)
    ]
    cypher = f"UNWIND $rows AS r MERGE (b:{B} {{id: r.id}}) SET b.title = r.title, b.source = 'given' SET b += r.props"
    return conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)


def write_bundle_items(
    conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None
) -> WriteSummary:
    """INCLUDES from each bundle to its products, extra columns as relationship properties."""
    rows = [
        {"bundle_id": b, "product_id": p, "props": x}
        for b, p, x in zip(frame["bundle_id"], frame["product_id"], props_column(frame, "bundle_items"), strict=True)
    ]
    cypher = (
        f"UNWIND $rows AS r MATCH (b:{B} {{id: r.bundle_id}}) MATCH (p:{P} {{id: r.product_id}}) "
        f"MERGE (b)-[x:{Rel.INCLUDES.value}]->(p) SET x += r.props"
    )
    return conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)


# -- events ---------------------------------------------------------------------------------------


def _events(frame: pd.DataFrame, name: str, key: list[str]) -> list[dict[str, Any]]:
    """One row per key: distinct event times, whether an untimed event exists, last extras."""
    frame = frame.sort_values([*key, "timestamp", LINE], kind="stable")
    frame = frame.assign(props=props_column(frame, name))
    repeated = frame.duplicated(key, keep=False)
    single = frame[~repeated]
    rows = [
        {**dict(zip(key, ids, strict=True)), "ts": [t] if t else [], "untimed": not t, "props": p}
        for *ids, t, p in zip(*(single[k] for k in key), single["timestamp"], single["props"], strict=True)
    ]
    for ids, group in frame[repeated].groupby(key, sort=False):
        times = sorted({t for t in group["timestamp"] if t})
        rows.append(
            {
                **dict(zip(key, ids, strict=True)),
                "ts": times,
                "untimed": bool((group["timestamp"] == "").any()),
                "props": group["props"].iloc[-1],
            }
        )
    return rows


_MERGE_EVENTS = (
    "WITH x, r, coalesce(x.{ts}, []) AS old, coalesce(x.{untimed}, false) OR r.untimed AS untimed "
    "WITH x, r, untimed, old + [t IN r.ts WHERE NOT datetime(t) IN old | datetime(t)] AS events "
    "SET x.{ts} = CASE WHEN size(events) = 0 THEN null ELSE events END, x.{untimed} = untimed, "
    "x.{count} = size(events) + CASE WHEN untimed THEN 1 ELSE 0 END, "
    "x.{last} = reduce(m = null, e IN events | CASE WHEN m IS NULL OR e > m THEN e ELSE m END), "
    "x.{first} = reduce(m = null, e IN events | CASE WHEN m IS NULL OR e < m THEN e ELSE m END) "
    "SET x += r.props"
)


def _event_cypher(rel: str, target: str, target_id: str, prefix: str = "") -> str:
    names = {"ts": "event_ts", "untimed": "untimed", "count": "count", "last": "last", "first": "first"}
    if prefix:
        names = {k: f"{prefix}{v}" for k, v in names.items()}
    return (
        f"UNWIND $rows AS r MERGE (u:{U} {{id: r.user_id}}) WITH u, r "
        f"MATCH (t:{target} {{id: r.{target_id}}}) MERGE (u)-[x:{rel}]->(t) " + _MERGE_EVENTS.format(**names)
    )


def write_interactions(
    conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None
) -> WriteSummary:
    """RATED (latest rating wins), VIEWED / ADDED_TO_CART events, direct purchase events."""
    total = WriteSummary()
    ratings = frame[frame["type"] == "rating"].sort_values(["timestamp", LINE], kind="stable")
    if not ratings.empty:
        ratings = ratings.assign(props=props_column(ratings, "interactions"))
        latest = ratings.drop_duplicates(["user_id", "product_id"], keep="last")
        rows = [
            {"user_id": u, "product_id": p, "rating": float(r), "ts": t or None, "props": x}
            for u, p, r, t, x in zip(
                latest["user_id"],
                latest["product_id"],
                latest["rating"],
                latest["timestamp"],
                latest["props"],
                strict=True,
            )
        ]
        total += conn.write_batches(
            f"UNWIND $rows AS r MERGE (u:{U} {{id: r.user_id}}) WITH u, r MATCH (p:{P} {{id: r.product_id}}) "
            f"MERGE (u)-[x:{Rel.RATED.value}]->(p) WITH x, r, "
            "CASE WHEN r.ts IS NULL THEN null ELSE datetime(r.ts) END AS ts "
            "WHERE x.ts IS NULL OR ts IS NULL OR ts >= x.ts "
            "SET x.rating = r.rating, x.ts = coalesce(ts, x.ts) SET x += r.props",
            rows,
            batch_size=batch_size,
            on_batch=progress,
        )
    for kind, rel in (*EVENT_RELS.items(), ("purchase", Rel.PURCHASED.value)):
        part = frame[frame["type"] == kind]
        if part.empty:
            continue
        rows = _events(part, "interactions", ["user_id", "product_id"])
        cypher = _event_cypher(rel, P, "product_id", prefix="direct_" if kind == "purchase" else "")
        total += conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)
    return total


def write_user_bundles(
    conn: GraphConnection, frame: pd.DataFrame, batch_size: int, progress: Progress = None
) -> WriteSummary:
    """INTERACTED_WITH {count, ts (the last), event_ts} plus extra columns such as ``split``."""
    rows = _events(frame, "user_bundles", ["user_id", "bundle_id"])
    cypher = _event_cypher(Rel.INTERACTED_WITH.value, B, "bundle_id").replace("x.last =", "x.ts =")
    return conn.write_batches(cypher, rows, batch_size=batch_size, on_batch=progress)


# -- derived --------------------------------------------------------------------------------------

RECOMPUTE_PURCHASED = (
    f"UNWIND $rows AS row MATCH (u:{U} {{id: row.id}}) "
    f"CALL (u) {{ OPTIONAL MATCH (u)-[:{Rel.PLACED.value}]->(o)-[c:{Rel.CONTAINS.value}]->(p) "
    "WITH u, p, count(DISTINCT o) AS n, sum(c.quantity) AS q, min(o.timestamp) AS f, max(o.timestamp) AS l "
    "CALL (u, p, n, q, f, l) { WITH * WHERE p IS NOT NULL "
    f"MERGE (u)-[x:{Rel.PURCHASED.value}]->(p) "
    "SET x.count = coalesce(x.direct_count, 0) + n, x.quantity = coalesce(x.direct_count, 0) + q, "
    "x.first = CASE WHEN x.direct_first IS NULL OR f < x.direct_first THEN f ELSE x.direct_first END, "
    "x.last = CASE WHEN x.direct_last IS NULL OR l > x.direct_last THEN l ELSE x.direct_last END } "
    "RETURN collect(p) AS ordered } "
    f"CALL (u, ordered) {{ MATCH (u)-[x:{Rel.PURCHASED.value}]->(p) WHERE NOT p IN ordered "
    "SET x.count = coalesce(x.direct_count, 0), x.quantity = coalesce(x.direct_count, 0), "
    "x.first = x.direct_first, x.last = x.direct_last "
    "WITH x WHERE x.count = 0 DELETE x }"
)


def recompute_purchased(
    conn: GraphConnection, user_ids: list[str], batch_size: int = 500, progress: Progress = None
) -> WriteSummary:
    """Rebuild PURCHASED {count, quantity, first, last} of these users from the graph (idempotent)."""
    rows = [{"id": u} for u in sorted(set(user_ids))]
    return conn.write_batches(RECOMPUTE_PURCHASED, rows, batch_size=batch_size, on_batch=progress)


def recompute_all_purchased(conn: GraphConnection, batch_size: int = 500) -> WriteSummary:
    """Rebuild PURCHASED for every user (after a bulk change)."""
    users = [r["id"] for r in conn.read(f"MATCH (u:{U}) RETURN u.id AS id")]
    return recompute_purchased(conn, users, batch_size)

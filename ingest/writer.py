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
from kgrec.kg import cypher
from kgrec.kg.connection import GraphConnection, WriteSummary
from kgrec.kg.schema import Label

Progress = Callable[[int], None] | None

#: Interaction type → the statement that records its events.
EVENT_WRITES: dict[str, str] = {
    "view": cypher.VIEWS,
    "cart": cypher.CART_ADDS,
    "purchase": cypher.DIRECT_PURCHASES,
}
#: Source of the bundles an input file gives (mined ones are ``kg.bundle_mining.MINED_SOURCE``).
GIVEN_SOURCE = "given"
#: Users per transaction when PURCHASED is rebuilt (each row reads all of a user's orders).
PURCHASED_BATCH_SIZE = 500

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
# Each writer takes ``write_batch_size``: rows per UNWIND write transaction (Settings.write_batch_size).


def write_products(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
) -> WriteSummary:
    """Product nodes with title, description, price and extra columns as properties."""
    rows = _records(frame[["product_id", "title", "description", "price"]])
    for row, props in zip(rows, props_column(frame, "products"), strict=True):
        row["title"] = row["title"] or ""
        row["description"] = row["description"] or ""
        row["props"] = props
    total = conn.write_batches(cypher.PRODUCTS, rows, write_batch_size=write_batch_size, on_batch=progress)
    total += write_categories(conn, frame, write_batch_size)
    total += write_brands(conn, frame, write_batch_size)
    return total + write_attributes(conn, frame, Label.PRODUCT, "product_id", write_batch_size)


def write_categories(conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int) -> WriteSummary:
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
    total = conn.write_batches(cypher.CATEGORIES, rows, write_batch_size=write_batch_size)
    parents = [r for r in rows if r["parent"]]
    total += conn.write_batches(cypher.CATEGORY_PARENTS, parents, write_batch_size=write_batch_size)
    links = linked.groupby("product_id", sort=False)["category"].agg(list)
    targets = [{"id": i, "targets": t} for i, t in links.items()]
    return total + conn.write_batches(cypher.PRODUCT_CATEGORIES, targets, write_batch_size=write_batch_size)


def write_brands(conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int) -> WriteSummary:
    """Brand nodes and each product's MADE_BY link."""
    linked = frame[frame["brand"].str.strip() != ""]
    links = [{"id": i, "targets": [b.strip()]} for i, b in zip(linked["product_id"], linked["brand"], strict=True)]
    if not links:
        return WriteSummary()
    names = [{"name": n} for n in sorted({r["targets"][0] for r in links})]
    total = conn.write_batches(cypher.BRANDS, names, write_batch_size=write_batch_size)
    return total + conn.write_batches(cypher.PRODUCT_BRANDS, links, write_batch_size=write_batch_size)


_ATTRIBUTE_LINKS = {Label.PRODUCT: cypher.PRODUCT_ATTRIBUTES, Label.USER: cypher.USER_ATTRIBUTES}


def write_attributes(
    conn: GraphConnection, frame: pd.DataFrame, owner: Label, id_column: str, write_batch_size: int
) -> WriteSummary:
    """``attr:``/``dattr:`` columns → Attribute nodes and HAS_ATTRIBUTE links of ``owner`` nodes.

    For each attribute name present in the input, an owner's links are replaced by the given
    values, so a corrected value does not leave the old one behind.
    """
    columns = [c for c in frame.columns if attribute_name(c) is not None]
    if not columns:
        return WriteSummary()
    # one long table (owner, column, value) for all columns at once: thousands of columns stay fast
    long = frame[[id_column, *columns]].melt(id_vars=id_column, var_name="column", value_name="value")
    long = long.rename(columns={id_column: "owner"})
    long = long.assign(value=long["value"].str.split(MULTI_VALUE_SEPARATOR)).explode("value", ignore_index=True)
    long["value"] = long["value"].str.strip().str.lower()
    long = long[long["value"] != ""]
    long = long.assign(
        name=long["column"].map({c: attribute_name(c) for c in columns}),
        derived=long["column"].str.startswith(DERIVED_ATTR_PREFIX),
    )
    long["key"] = long["name"] + "=" + long["value"]
    nodes = long.drop_duplicates("key")[["key", "name", "value", "derived"]]
    total = conn.write_batches(cypher.ATTRIBUTES, _records(nodes), write_batch_size=write_batch_size)
    names = sorted({name for c in columns if (name := attribute_name(c)) is not None})
    keys = long.groupby("owner")["key"].agg(lambda s: sorted(set(s)))
    owners = [{"id": o, "names": names, "keys": keys.get(o, [])} for o in frame[id_column].unique()]
    # each owner row carries all its attribute keys: a tenth of the rows per transaction
    per_batch = max(1, write_batch_size // 10)
    return total + conn.write_batches(_ATTRIBUTE_LINKS[owner], owners, write_batch_size=per_batch)


def write_users(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
) -> WriteSummary:
    """User nodes with their extra columns as properties and ``attr:`` columns as attributes."""
    rows = [{"id": i, "props": p} for i, p in zip(frame["user_id"], props_column(frame, "users"), strict=True)]
    total = conn.write_batches(cypher.USERS, rows, write_batch_size=write_batch_size, on_batch=progress)
    return total + write_attributes(conn, frame, Label.USER, "user_id", write_batch_size)


def write_orders(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
) -> WriteSummary:
    """Order nodes (timestamp as DateTime), their users, and PLACED."""
    rows = [
        {"id": o, "user_id": u, "ts": t, "props": p}
        for o, u, t, p in zip(
            frame["order_id"], frame["user_id"], frame["timestamp"], props_column(frame, "orders"), strict=True
        )
    ]
    return conn.write_batches(cypher.ORDERS, rows, write_batch_size=write_batch_size, on_batch=progress)


def write_order_items(
    conn: GraphConnection,
    frame: pd.DataFrame,
    write_batch_size: int,
    progress: Progress = None,
    new_orders: set[str] | None = None,
) -> WriteSummary:
    """CONTAINS {quantity, price} from each order to its products.

    Items of ``new_orders`` (orders this ingest created, so without any CONTAINS yet) are CREATEd,
    grouped per order; all other items are MERGEd, so rewriting an existing order stays idempotent.
    """
    fresh = frame["order_id"].isin(new_orders) if new_orders else pd.Series(False, index=frame.index)
    extras = bool(extra_columns(SPECS["order_items"], frame))
    total = WriteSummary()
    if fresh.any():
        part = frame[fresh]
        rows: list[dict[str, Any]] = []
        for order, group in part.groupby("order_id", sort=False):
            rows.append({"order_id": order, "items": _item_rows(group, extras)})
        orders_per_batch = max(1, int(write_batch_size * len(rows) / len(part)))  # about write_batch_size items
        on_batch = (lambda n: progress(n * len(part) // len(rows))) if progress else None
        total += conn.write_batches(cypher.NEW_ORDER_ITEMS, rows, write_batch_size=orders_per_batch, on_batch=on_batch)
    rows = _item_rows(frame[~fresh], extras, with_order=True)
    return total + conn.write_batches(cypher.ORDER_ITEMS, rows, write_batch_size=write_batch_size, on_batch=progress)


def _item_rows(frame: pd.DataFrame, extras: bool, with_order: bool = False) -> list[dict[str, Any]]:
    """Order item rows (product, quantity, price) plus their extra columns as ``props`` if any."""
    rows = _records(frame[[*(["order_id"] if with_order else []), "product_id", "quantity", "price"]])
    if extras:
        for row, props in zip(rows, props_column(frame, "order_items"), strict=True):
            row["props"] = props
    return rows


def write_bundles(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
) -> WriteSummary:
    """Bundle nodes (source 'given') with title and extra properties."""
    rows = [
        {"id": i, "title": t, "props": p}
        for i, t, p in zip(frame["bundle_id"], frame["title"], props_column(frame, "bundles"), strict=True)
    ]
    return conn.write_batches(
        cypher.BUNDLES, rows, write_batch_size=write_batch_size, extra={"source": GIVEN_SOURCE}, on_batch=progress
    )


def write_bundle_items(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
) -> WriteSummary:
    """INCLUDES from each bundle to its products, extra columns as relationship properties."""
    rows = [
        {"bundle_id": b, "product_id": p, "props": x}
        for b, p, x in zip(frame["bundle_id"], frame["product_id"], props_column(frame, "bundle_items"), strict=True)
    ]
    return conn.write_batches(cypher.BUNDLE_ITEMS, rows, write_batch_size=write_batch_size, on_batch=progress)


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


def write_interactions(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
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
        total += conn.write_batches(cypher.RATINGS, rows, write_batch_size=write_batch_size, on_batch=progress)
    for kind, statement in EVENT_WRITES.items():
        part = frame[frame["type"] == kind]
        if part.empty:
            continue
        rows = _events(part, "interactions", ["user_id", "product_id"])
        total += conn.write_batches(statement, rows, write_batch_size=write_batch_size, on_batch=progress)
    return total


def write_user_bundles(
    conn: GraphConnection, frame: pd.DataFrame, write_batch_size: int, progress: Progress = None
) -> WriteSummary:
    """INTERACTED_WITH {count, ts (the last), event_ts} plus extra columns such as ``split``."""
    rows = _events(frame, "user_bundles", ["user_id", "bundle_id"])
    return conn.write_batches(cypher.BUNDLE_INTERACTIONS, rows, write_batch_size=write_batch_size, on_batch=progress)


# -- derived --------------------------------------------------------------------------------------


def recompute_purchased(
    conn: GraphConnection,
    user_ids: list[str],
    write_batch_size: int = PURCHASED_BATCH_SIZE,
    progress: Progress = None,
) -> WriteSummary:
    """Rebuild PURCHASED {count, quantity, first, last} of these users from the graph (idempotent)."""
    rows = [{"id": u} for u in sorted(set(user_ids))]
    return conn.write_batches(cypher.RECOMPUTE_PURCHASED, rows, write_batch_size=write_batch_size, on_batch=progress)

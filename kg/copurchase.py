"""Basket statistics: which products are bought together, as BOUGHT_WITH relationships.

For baskets (orders) B, N = |B| and orders(x) = the number of baskets holding x:

    support(a, b)    = orders(a, b) / N
    confidence(a→b)  = orders(a, b) / orders(a)          (directional)
    lift(a, b)       = orders(a, b) * N / (orders(a) * orders(b))

Pairs bought together in fewer than ``min_orders`` baskets are left out. The statistics are a pure
function of the baskets (``compute_pair_stats``); ``read_baskets`` can restrict the baskets to
orders before a time or to given order ids, so a model can learn from training orders only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import sparse

from kgrec.kg import cypher
from kgrec.kg.baskets import binary_matrix, cooccurrence
from kgrec.kg.connection import DEFAULT_DELETE_BATCH_SIZE, DEFAULT_WRITE_BATCH_SIZE, GraphConnection, WriteSummary
from kgrec.kg.defaults import DEFAULT_MIN_ORDERS

STATS_COLUMNS = ["source", "target", "orders", "support", "confidence", "lift"]


@dataclass(frozen=True)
class CopurchaseSummary:
    """What a recomputation did: baskets read, product pairs kept, relationships written."""

    baskets: int
    pairs: int
    relationships: int


def read_baskets(
    conn: GraphConnection, before: datetime | None = None, order_ids: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """Order id → product ids of the orders in the graph (only those before ``before`` / in ``order_ids``)."""
    if order_ids is not None:
        rows = conn.read_stream(cypher.BASKETS_OF_ORDERS, {"ids": sorted(set(order_ids)), "before": before})
    else:
        rows = conn.read_stream(cypher.BASKETS, {"before": before})
    return {row["o"]: row["items"] for row in rows}


def compute_pair_stats(baskets: Mapping[str, Sequence[str]], min_orders: int = DEFAULT_MIN_ORDERS) -> pd.DataFrame:
    """Both directions of every product pair in at least ``min_orders`` baskets, sorted by source, target.

    Columns: source, target, orders, support, confidence (source→target), lift. A product repeated
    within one basket counts once.
    """
    if min_orders < 1:
        raise ValueError(f"min_orders must be at least 1, got {min_orders}")
    n = len(baskets)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("source", "target") else float) for c in STATS_COLUMNS})
    lengths = np.fromiter((len(items) for items in baskets.values()), dtype=np.int64, count=n)
    flat = pd.Series([p for items in baskets.values() for p in items], dtype=object)
    codes, products = pd.factorize(flat, sort=True)
    rows = np.repeat(np.arange(n), lengths)
    x = binary_matrix(rows, codes, (n, len(products)))  # a product repeated inside a basket counts once
    together_all, per_product = cooccurrence(x)
    pairs = sparse.triu(together_all, k=1).tocoo()
    keep = pairs.data >= min_orders
    a, b, together = pairs.row[keep], pairs.col[keep], np.rint(pairs.data[keep]).astype(np.int64)
    source = np.concatenate([a, b])
    target = np.concatenate([b, a])
    both = np.concatenate([together, together])
    stats = pd.DataFrame(
        {
            "source": np.asarray(products)[source],
            "target": np.asarray(products)[target],
            "orders": both,
            "support": both / n,
            "confidence": both / per_product[source],
            "lift": both * n / (per_product[source].astype(float) * per_product[target]),
        }
    )
    return stats.sort_values(["source", "target"], kind="stable").reset_index(drop=True)


def delete_bought_with(conn: GraphConnection, delete_batch_size: int = DEFAULT_DELETE_BATCH_SIZE) -> None:
    """Remove every BOUGHT_WITH relationship, in batches."""
    conn.execute(cypher.DELETE_BOUGHT_WITH, {"size": delete_batch_size})


def write_bought_with(
    conn: GraphConnection, stats: pd.DataFrame, write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE
) -> WriteSummary:
    """Replace all BOUGHT_WITH relationships by ``stats`` (as from ``compute_pair_stats``), batched.

    Each unordered pair is one row creating both directions (confidence differs per direction).
    """
    delete_bought_with(conn)
    forward = stats[stats["source"] < stats["target"]]
    backward = stats[stats["source"] > stats["target"]].rename(
        columns={"source": "target", "target": "source", "confidence": "back"}
    )[["source", "target", "back"]]
    pairs = forward.merge(backward, on=["source", "target"], how="left", validate="one_to_one")
    rows = [
        {"a": s, "b": t, "orders": int(o), "support": float(su), "ab": float(c), "ba": float(ba), "lift": float(li)}
        for s, t, o, su, c, ba, li in pairs[
            ["source", "target", "orders", "support", "confidence", "back", "lift"]
        ].itertuples(index=False, name=None)
    ]
    # each row writes two relationships: half as many rows per transaction
    return conn.write_batches(cypher.WRITE_BOUGHT_WITH, rows, write_batch_size=max(1, write_batch_size // 2))


def recompute_bought_with(
    conn: GraphConnection,
    min_orders: int = DEFAULT_MIN_ORDERS,
    before: datetime | None = None,
    order_ids: Iterable[str] | None = None,
    write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE,
) -> CopurchaseSummary:
    """Read baskets, compute pair statistics and rewrite BOUGHT_WITH (idempotent)."""
    baskets = read_baskets(conn, before=before, order_ids=order_ids)
    stats = compute_pair_stats(baskets, min_orders)
    written = write_bought_with(conn, stats, write_batch_size)
    return CopurchaseSummary(len(baskets), len(stats) // 2, written.relationships_created)

r"""Mined bundles: frequent product pairs and triples from baskets, written as Bundle nodes.

For baskets :math:`B` (:math:`N = |B|`) and an itemset :math:`X`, ``orders(X)`` counts the baskets
holding all of :math:`X` and

.. math:: \mathrm{lift}(X) = \frac{\mathrm{orders}(X)\, N^{|X|-1}}{\prod_{x \in X} \mathrm{orders}(x)}

(for pairs this is kg.copurchase's lift). A small Apriori: pairs with ``orders >= min_orders``
and ``lift >= min_lift`` form a graph; its triangles (networkx cliques of size 3) are the
candidate triples, counted exactly and kept under the same thresholds. Pairs inside a kept triple
are dropped (the triple says more). Itemsets are ranked by orders, then lift.

Each itemset becomes ``(:Bundle {id: 'mined:<sorted ids joined by |>', source: 'mined', title,
orders, lift, size})-[:INCLUDES]->(:Product)`` (title: the items' titles joined by `` + ``), written with batched ``UNWIND ... MERGE``;
mined bundles not in the new result are removed, so mining twice leaves the same graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import networkx as nx
import numpy as np
from scipy import sparse

from kgrec.kg import cypher
from kgrec.kg.baskets import binary_matrix, cooccurrence
from kgrec.kg.connection import DEFAULT_WRITE_BATCH_SIZE, GraphConnection
from kgrec.kg.copurchase import read_baskets
from kgrec.kg.errors import KgrecError

MINED_SOURCE = "mined"
MINED_PREFIX = "mined:"
#: Between item titles in a mined bundle's title.
TITLE_JOINER = " + "


class MiningError(KgrecError):
    """Mining thresholds are invalid."""


@dataclass(frozen=True)
class Itemset:
    """Products bought together in ``orders`` baskets, with their lift."""

    items: tuple[str, ...]
    orders: int
    lift: float

    @property
    def bundle_id(self) -> str:
        return MINED_PREFIX + "|".join(self.items)


@dataclass(frozen=True)
class MiningSummary:
    baskets: int
    pairs: int
    triples: int
    bundles_written: int
    bundles_removed: int


def mine_itemsets(
    baskets: Mapping[str, Sequence[str]],
    min_orders: int = 5,
    min_lift: float = 2.0,
    max_size: int = 3,
    max_itemsets: int = 1_000,
) -> list[Itemset]:
    """Frequent, high-lift pairs (and triples when ``max_size >= 3``), best first."""
    if min_orders < 1 or min_lift <= 0 or max_size not in (2, 3) or max_itemsets < 1:
        raise MiningError(
            f"need min_orders >= 1, min_lift > 0, max_size 2 or 3, max_itemsets >= 1; "
            f"got {min_orders}, {min_lift}, {max_size}, {max_itemsets}"
        )
    sets = [sorted(set(items)) for items in baskets.values()]
    n = len(sets)
    products = sorted({p for s in sets for p in s})
    if n == 0 or len(products) < 2:
        return []
    index = {p: i for i, p in enumerate(products)}
    rows = np.repeat(np.arange(n), [len(s) for s in sets])
    cols = np.fromiter((index[p] for s in sets for p in s), dtype=np.int64, count=len(rows))
    x = binary_matrix(rows, cols, (n, len(products))).tocsc()  # columns are sliced for triples
    together_all, single = cooccurrence(x)
    together = sparse.triu(together_all, k=1).tocoo()
    graph = nx.Graph()
    pairs: list[Itemset] = []
    for a, b, o in zip(together.row, together.col, together.data, strict=False):
        lift = float(o) * n / (single[a] * single[b])
        if o >= min_orders and lift >= min_lift:
            graph.add_edge(int(a), int(b))
            pairs.append(Itemset((products[a], products[b]), int(o), lift))
    triples: list[Itemset] = []
    if max_size >= 3:
        for clique in nx.enumerate_all_cliques(graph):
            if len(clique) < 3:
                continue
            if len(clique) > 3:
                break
            a, b, c = sorted(clique)
            o = int(x[:, a].multiply(x[:, b]).multiply(x[:, c]).sum())
            lift = o * n * n / (single[a] * single[b] * single[c])
            if o >= min_orders and lift >= min_lift:
                triples.append(Itemset((products[a], products[b], products[c]), o, float(lift)))
    covered = {pair for t in triples for pair in combinations(t.items, 2)}
    kept = triples + [p for p in pairs if p.items not in covered]
    kept.sort(key=lambda s: (-s.orders, -s.lift, s.items))
    return kept[:max_itemsets]


def write_mined_bundles(
    conn: GraphConnection, itemsets: Sequence[Itemset], write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE
) -> tuple[int, int]:
    """MERGE the itemsets as mined Bundle nodes (titled from their items), delete stale ones.

    Returns (written, removed).
    """
    rows = [{"id": s.bundle_id, "items": list(s.items), "orders": s.orders, "lift": round(s.lift, 4)} for s in itemsets]
    keep = [r["id"] for r in rows]
    stale = [{"id": r["id"]} for r in conn.read(cypher.STALE_BUNDLES, {"source": MINED_SOURCE, "keep": keep})]
    conn.write_batches(cypher.DELETE_BUNDLES, stale, write_batch_size=write_batch_size, extra={"source": MINED_SOURCE})
    conn.write_batches(
        cypher.WRITE_MINED_BUNDLES,
        rows,
        write_batch_size=max(1, write_batch_size // 10),  # each row MERGEs a bundle and its items
        extra={"source": MINED_SOURCE, "joiner": TITLE_JOINER},
    )
    return len(rows), len(stale)


def mine_bundles(
    conn: GraphConnection,
    min_orders: int = 5,
    min_lift: float = 2.0,
    max_size: int = 3,
    max_itemsets: int = 1_000,
    write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE,
) -> MiningSummary:
    """Read the graph's baskets (Order-CONTAINS-Product), mine itemsets, write mined bundles."""
    baskets = read_baskets(conn)
    itemsets = mine_itemsets(baskets, min_orders, min_lift, max_size, max_itemsets)
    written, removed = write_mined_bundles(conn, itemsets, write_batch_size)
    triples = sum(len(s.items) == 3 for s in itemsets)
    return MiningSummary(len(baskets), len(itemsets) - triples, triples, written, removed)

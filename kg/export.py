"""Graph → arrays: batched Cypher reads into a :class:`GraphSnapshot` (numpy, no pandas).

Node ids per type are sorted strings; index ``i`` of ``snapshot.ids['product']`` is row ``i`` of
every product array. Relationship edges are ``[2, E]`` int64 arrays of those indices, keyed by
``(source type, REL, target type)``. Order lines come as parallel arrays (user, order, product,
epoch seconds) for temporal splits. Relationships are read per batch of source ids
(``UNWIND $ids``), each batch one retried read transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from kgrec.kg import cypher
from kgrec.kg.connection import GraphConnection, batched
from kgrec.kg.schema import RELATIONS, Label, Rel

#: Node types exported, with their label (``order`` is kept as order rows, not nodes).
NODE_TYPES: dict[str, Label] = {
    "user": Label.USER,
    "product": Label.PRODUCT,
    "category": Label.CATEGORY,
    "brand": Label.BRAND,
    "attribute": Label.ATTRIBUTE,
    "bundle": Label.BUNDLE,
}
_TYPE_OF = {label: name for name, label in NODE_TYPES.items()}

EdgeKey = tuple[str, str, str]

#: Relationships of the schema that are not exported as edges: orders come separately as rows
#: (PLACED, CONTAINS); views and cart events are not used; BOUGHT_WITH counts every order, the
#: validation and test periods included, so a model recomputes it from training orders instead;
#: RECOMMENDED is the model's own output written back (never its input).
NOT_EXPORTED = frozenset({Rel.PLACED, Rel.CONTAINS, Rel.VIEWED, Rel.ADDED_TO_CART, Rel.BOUGHT_WITH, Rel.RECOMMENDED})
#: Relationships exported as edges: the schema's RELATIONS less NOT_EXPORTED.
EDGE_RELATIONS: tuple[tuple[Label, Rel, Label], ...] = tuple(t for t in RELATIONS if t[1] not in NOT_EXPORTED)

#: Relationships whose ``split`` property (train / valid / tune / test) is exported when present.
SPLIT_RELATIONS = {Rel.PURCHASED, Rel.RATED, Rel.INTERACTED_WITH}
#: The numeric property exported per edge (``edge_values``).
VALUE_PROPERTY = {Rel.RATED: "rating", Rel.PURCHASED: "count", Rel.INTERACTED_WITH: "count"}


def edge_key(src: Label, rel: Rel, dst: Label) -> EdgeKey:
    return (_TYPE_OF[src], rel.value, _TYPE_OF[dst])


@dataclass(frozen=True)
class OrderRows:
    """One row per order line: indices into the snapshot's users/products, time in epoch seconds."""

    user: np.ndarray
    order: np.ndarray  # index into ``order_ids``
    product: np.ndarray
    timestamp: np.ndarray  # int64 epoch seconds
    order_ids: list[str]

    def __len__(self) -> int:
        return int(self.user.shape[0])


@dataclass(frozen=True)
class GraphSnapshot:
    """Everything the GNN needs from the graph, as arrays over sorted string ids."""

    ids: dict[str, list[str]]
    edges: dict[EdgeKey, np.ndarray]
    edge_values: dict[EdgeKey, np.ndarray] = field(default_factory=dict)  # rating / count per edge
    edge_split: dict[EdgeKey, np.ndarray] = field(default_factory=dict)  # object array of str|None
    orders: OrderRows | None = None
    product_embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    embedding_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    product_titles: list[str | None] = field(default_factory=list)

    def num(self, node_type: str) -> int:
        return len(self.ids.get(node_type, []))

    @cached_property
    def index(self) -> dict[str, dict[str, int]]:
        """``index[node_type][id] -> row``."""
        return {t: {v: i for i, v in enumerate(ids)} for t, ids in self.ids.items()}

    def edge(self, key: EdgeKey) -> np.ndarray:
        """``[2, E]`` edges of ``key`` (empty when the graph has none)."""
        return self.edges.get(key, np.zeros((2, 0), np.int64))

    @property
    def embedding_dim(self) -> int:
        return int(self.product_embeddings.shape[1])

    def summary(self) -> dict[str, int]:
        out = {f"nodes.{t}": len(v) for t, v in self.ids.items()}
        out |= {f"edges.{k[1]}.{k[0]}-{k[2]}": int(v.shape[1]) for k, v in self.edges.items()}
        out["order_lines"] = len(self.orders) if self.orders is not None else 0
        out["products_with_embedding"] = int(self.embedding_mask.sum())
        return out


def read_node_ids(conn: GraphConnection, label: Label) -> list[str]:
    """Sorted key values of every node of ``label`` (streamed)."""
    rows = conn.read_stream(cypher.node_ids(label))
    return sorted(str(r["id"]) for r in rows)


def read_edges(
    conn: GraphConnection,
    triple: tuple[Label, Rel, Label],
    ids: dict[str, list[str]],
    index: dict[str, dict[str, int]],
    read_batch_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Edges of one relation (indices), a value per edge (rating/count) and the split marker."""
    src, rel, dst = triple
    # dynamic property access (r[$key]) so that graphs without the property raise no notification
    query = cypher.edges(src, rel, dst, value=rel in VALUE_PROPERTY, split=rel in SPLIT_RELATIONS)
    s_idx, t_idx, values, splits = [], [], [], []
    tindex = index[_TYPE_OF[dst]]
    sindex = index[_TYPE_OF[src]]
    for chunk in batched(ids[_TYPE_OF[src]], read_batch_size):
        for r in conn.read(query, {"ids": chunk, "value": VALUE_PROPERTY.get(rel, ""), "split": "split"}):
            t = tindex.get(str(r["t"]))
            if t is None:
                continue
            s_idx.append(sindex[str(r["s"])])
            t_idx.append(t)
            values.append(float(r["v"]) if r["v"] is not None else np.nan)
            splits.append(r["split"])
    edges = np.array([s_idx, t_idx], dtype=np.int64).reshape(2, -1)
    order = np.lexsort((edges[1], edges[0]))
    has_split = any(s is not None for s in splits)
    split_arr = np.array(splits, dtype=object)[order] if has_split else None
    return edges[:, order], np.array(values, dtype=np.float32)[order], split_arr


def read_orders(
    conn: GraphConnection, ids: dict[str, list[str]], index: dict[str, dict[str, int]], read_batch_size: int
) -> OrderRows | None:
    """Order lines of every user, sorted by (time, order id, product)."""
    users, orders, products, stamps = [], [], [], []
    pindex, uindex = index["product"], index["user"]
    for chunk in batched(ids["user"], read_batch_size):
        for r in conn.read(cypher.ORDER_LINES, {"ids": chunk}):
            if r["ts"] is None or str(r["p"]) not in pindex:
                continue
            users.append(uindex[str(r["u"])])
            orders.append(str(r["o"]))
            products.append(pindex[str(r["p"])])
            stamps.append(int(r["ts"]))
    if not users:
        return None
    order_ids = sorted(set(orders))
    oindex = {o: i for i, o in enumerate(order_ids)}
    o_arr = np.array([oindex[o] for o in orders], dtype=np.int64)
    u_arr, p_arr, t_arr = (np.array(x, dtype=np.int64) for x in (users, products, stamps))
    perm = np.lexsort((p_arr, o_arr, t_arr))
    return OrderRows(u_arr[perm], o_arr[perm], p_arr[perm], t_arr[perm], order_ids)


def read_products(
    conn: GraphConnection, product_ids: Sequence[str], read_batch_size: int
) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Embedding matrix (zeros where missing), its mask and the titles, in ``product_ids`` order."""
    vectors: list[list[float] | None] = []
    titles: list[str | None] = []
    for chunk in batched(product_ids, read_batch_size):
        params = {"ids": chunk, "title": "title", "vector": "embedding"}
        got = {str(r["id"]): r for r in conn.read(cypher.PRODUCT_VECTORS, params)}
        for pid in chunk:
            row = got.get(pid)
            vectors.append(row["vector"] if row else None)
            titles.append(row["title"] if row else None)
    dim = max((len(v) for v in vectors if v), default=0)
    matrix = np.zeros((len(vectors), dim), dtype=np.float32)
    mask = np.zeros(len(vectors), dtype=bool)
    for i, v in enumerate(vectors):
        if v and len(v) == dim:
            matrix[i] = v
            mask[i] = True
    return matrix, mask, titles


def export_graph(conn: GraphConnection, read_batch_size: int = 2_000) -> GraphSnapshot:
    """Read the whole recommendation-relevant graph into a :class:`GraphSnapshot`.

    Relationships, order lines and vectors are read for ``read_batch_size`` source ids at a time.
    """
    labels = {r["label"] for r in conn.read(cypher.LABELS)}
    types = {r["t"] for r in conn.read(cypher.RELATIONSHIP_TYPES)}
    ids = {name: read_node_ids(conn, label) if label.value in labels else [] for name, label in NODE_TYPES.items()}
    index = {t: {v: i for i, v in enumerate(vals)} for t, vals in ids.items()}
    edges: dict[EdgeKey, np.ndarray] = {}
    values: dict[EdgeKey, np.ndarray] = {}
    splits: dict[EdgeKey, np.ndarray] = {}
    for triple in EDGE_RELATIONS:
        if triple[1].value not in types:
            continue
        key = edge_key(*triple)
        e, v, s = read_edges(conn, triple, ids, index, read_batch_size)
        if e.shape[1] == 0:
            continue
        edges[key], values[key] = e, v
        if s is not None:
            splits[key] = s
    orders = read_orders(conn, ids, index, read_batch_size) if Rel.CONTAINS.value in types else None
    matrix, mask, titles = read_products(conn, ids["product"], read_batch_size)
    return GraphSnapshot(ids, edges, values, splits, orders, matrix, mask, titles)

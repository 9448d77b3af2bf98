"""GraphSnapshot → split + PyG ``HeteroData`` whose message-passing edges hold TRAINING data only.

Node types: user, product (``x`` = text embedding, ``x_mask`` = has text), category, brand,
attribute, bundle; each carries ``id_index`` (row in the model's learnable id table, ``-1`` for
a node the model has never seen). Relations (plus ``rev_*`` reverses, same-type ones symmetric):

* ``user -buys-> product``: training interactions only (never valid/test targets);
* ``product -co_purchased- product``: pairs bought in the same TRAINING order (not the graph's
  BOUGHT_WITH, which counts later orders too), top ``copurchase_top_k`` partners per product;
* catalogue structure: in_category, child_of, made_by, has_attribute (product and user);
* bundles: includes, interacted_with (only edges marked ``train`` when markers exist). Bundles
  mined by ``kgrec bundles mine`` (ids ``mined:...``) are left out: they are mined from ALL orders,
  validation and test included, so their INCLUDES edges would leak held-out baskets into training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from kgrec.gnn.contract import Interactions, LinkSplit
from kgrec.gnn.graph_ops import binary_matrix, cooccurrence, top_k_per_row
from kgrec.gnn.shop_profile import MIN_EVAL_USERS, profile_orders, require_targets, target_users
from kgrec.gnn.splits import (
    TRAIN_MARKERS,
    leave_last_basket_split,
    official_split,
    random_order_split,
    random_split,
    temporal_split,
)
from kgrec.kg.bundle_mining import MINED_PREFIX
from kgrec.kg.errors import ModelError
from kgrec.kg.export import EdgeKey, GraphSnapshot, OrderRows

EdgeType = tuple[str, str, str]

#: snapshot relation → (message-passing relation name)
STRUCTURE: dict[EdgeKey, str] = {
    ("product", "IN_CATEGORY", "category"): "in_category",
    ("category", "CHILD_OF", "category"): "child_of",
    ("product", "MADE_BY", "brand"): "made_by",
    ("product", "HAS_ATTRIBUTE", "attribute"): "has_attribute",
    ("user", "HAS_ATTRIBUTE", "attribute"): "has_attribute",
    ("bundle", "INCLUDES", "product"): "includes",
    ("user", "INTERACTED_WITH", "bundle"): "interacted_with",
}
PURCHASED: EdgeKey = ("user", "PURCHASED", "product")
RATED: EdgeKey = ("user", "RATED", "product")
BUYS: EdgeType = ("user", "buys", "product")
CO_PURCHASED: EdgeType = ("product", "co_purchased", "product")


@dataclass(frozen=True)
class DataConfig:
    """How to split and which derived edges to build."""

    split: Literal["auto", "temporal", "leave-last-basket", "official", "random"] = "auto"
    valid_frac: float = 0.1
    test_frac: float = 0.1
    split_by: Literal["orders", "time"] = "orders"
    drop_cold_users: bool = True
    min_rating: float = 4.0  # RATED edges at or above count as positives
    copurchase_top_k: int = 20
    max_order_items: int = 100  # larger baskets are truncated when counting co-purchases
    seed: int = 42
    min_eval_users: int = MIN_EVAL_USERS  # fewer customers with targets than this: refuse the split


@dataclass(frozen=True)
class PreparedData:
    """What training needs: the split, the message-passing graph and the id maps."""

    snapshot: GraphSnapshot
    split: LinkSplit
    data: HeteroData
    copurchase: Tensor  # [2, E] training co-purchase pairs (both directions)
    split_kind: str
    stats: dict[str, int] = field(default_factory=dict)
    config: DataConfig = field(default_factory=DataConfig)
    split_reason: str = ""  # why this split (printed by train and evaluate)
    train_lines: np.ndarray | None = None  # bool per snapshot order line: a training line (order data only)

    @property
    def id_maps(self) -> dict[str, list[str]]:
        return {t: list(v) for t, v in self.snapshot.ids.items()}


def interaction_edges(
    snapshot: GraphSnapshot, min_rating: float = 4.0
) -> tuple[EdgeKey, np.ndarray, np.ndarray | None]:
    """The user→product positives of a graph without orders: PURCHASED, else RATED ≥ ``min_rating``."""
    if snapshot.edge(PURCHASED).shape[1]:
        return PURCHASED, snapshot.edge(PURCHASED), snapshot.edge_split.get(PURCHASED)
    if snapshot.edge(RATED).shape[1]:
        keep = snapshot.edge_values[RATED] >= min_rating
        split = snapshot.edge_split.get(RATED)
        return RATED, snapshot.edge(RATED)[:, keep], split[keep] if split is not None else None
    raise ModelError("the graph has no orders, PURCHASED or RATED edges: ingest interactions first")


SplitChoice = tuple[LinkSplit, np.ndarray | None, str, dict[str, int], str]


def make_split(snapshot: GraphSnapshot, config: DataConfig) -> SplitChoice:
    """The split, the training order lines, its kind and stats, and why it was chosen.

    ``auto`` takes, for order data, the temporal split when it leaves enough customers to rank
    (``min_eval_users`` in validation and test), else leave-last-basket, else stops and says which
    task to use; for marked edges the official split; else a seeded random one. A split named by
    the user is refused the same way when it leaves too few customers to rank.
    """
    users, items = snapshot.num("user"), snapshot.num("product")
    orders, profile = snapshot.orders, profile_orders(snapshot.orders)
    if orders is not None and len(orders) and config.split in ("auto", "temporal", "leave-last-basket", "random"):
        tried: list[str] = []
        kinds = ["temporal", "leave-last-basket"] if config.split == "auto" else [config.split]
        for kind in kinds:
            if kind == "temporal":
                ts = temporal_split(
                    orders, users, items, config.valid_frac, config.test_frac, config.split_by, config.drop_cold_users
                )
            elif kind == "leave-last-basket":
                ts = leave_last_basket_split(orders, users, items, config.drop_cold_users)
            else:
                ts = random_order_split(orders, users, items, config.valid_frac, config.test_frac, config.seed)
            valid_users, test_users = target_users(ts.split)
            if min(valid_users, test_users) >= config.min_eval_users:
                why = (
                    "as asked"
                    if config.split != "auto"
                    else f"auto: {valid_users} validation / {test_users} test customers to rank"
                )
                if tried:
                    why += f" ({'; '.join(tried)})"
                return ts.split, ts.train_lines, kind, ts.stats, why
            tried.append(f"{kind} left {valid_users}/{test_users}")
        require_targets(ts.split, "/".join(kinds), profile, config.min_eval_users)
    if config.split in ("temporal", "leave-last-basket"):
        raise ModelError(f"the {config.split} split needs Order nodes with timestamps; use --split random")
    key, edges, markers = interaction_edges(snapshot, config.min_rating)
    kind = config.split if config.split != "auto" else ("official" if markers is not None else "random")
    if kind == "official":
        if markers is None:
            raise ModelError(f"{key} edges have no split marker; use --split random or temporal")
        marked = GraphSnapshot(snapshot.ids, {key: edges}, edge_split={key: markers})
        split = official_split(marked, key)
    elif kind == "random":
        split = random_split(edges, users, items, config.valid_frac, config.test_frac, config.seed)
    else:
        raise ModelError(f"unknown split {kind!r}: use auto, temporal, leave-last-basket, official or random")
    require_targets(split, kind, profile, config.min_eval_users)
    return split, None, kind, {}, "as asked" if config.split != "auto" else f"auto: {key[1]} edges, {kind}"


def copurchase_pairs(
    orders: OrderRows, lines: np.ndarray, num_items: int, top_k: int = 20, max_order_items: int = 100
) -> np.ndarray:
    """``[2, E]`` product pairs bought in the same order among ``lines`` (a bool mask), top-k per product.

    Per product the ``top_k`` partners in most orders (ties by id), from the co-occurrence of the
    orders×products matrix (``gnn.graph_ops``); orders count their first ``max_order_items``
    distinct products (by id); pairs kept by either end, both directions.
    """
    sel = np.flatnonzero(lines)
    key = np.unique(orders.order[sel] * num_items + orders.product[sel])  # distinct (order, product)
    o, p = key // num_items, key % num_items
    first = np.searchsorted(o, o)  # rows are sorted by order, then product
    keep = np.arange(len(o)) - first < max_order_items
    x = binary_matrix(np.unique(o[keep], return_inverse=True)[1], p[keep], (len(np.unique(o)), num_items))
    together, _ = cooccurrence(x)
    top = top_k_per_row(together, top_k)
    both = (top + top.T).tocoo()
    pairs = np.unique(both.row.astype(np.int64) * num_items + both.col)
    return np.stack([pairs // num_items, pairs % num_items]).astype(np.int64)


def _structure_edges(snapshot: GraphSnapshot) -> dict[EdgeType, np.ndarray]:
    out: dict[EdgeType, np.ndarray] = {}
    for key, name in STRUCTURE.items():
        edges = snapshot.edge(key)
        markers = snapshot.edge_split.get(key)
        if markers is not None:  # keep only training interactions of marked relations
            edges = edges[:, np.array([m is None or str(m).lower() in TRAIN_MARKERS for m in markers], bool)]
        out[(key[0], name, key[2])] = edges
    mined = np.array([b.startswith(MINED_PREFIX) for b in snapshot.ids.get("bundle", [])], bool)
    if mined.any():  # leak guard: mined bundles saw the held-out orders
        for (src, name, dst), edges in out.items():
            if "bundle" in (src, dst) and edges.size:
                rows = edges[0] if src == "bundle" else edges[1]
                out[(src, name, dst)] = edges[:, ~mined[rows]]
    return out


def build_hetero_data(
    snapshot: GraphSnapshot,
    train: Interactions,
    copurchase: np.ndarray | Tensor,
    *,
    metadata: tuple[list[str], list[EdgeType]] | None = None,
    id_index: dict[str, Tensor] | None = None,
) -> HeteroData:
    """The message-passing graph. ``metadata`` fixes node/edge types (serving must match training)."""
    forward: dict[EdgeType, Tensor] = {
        BUYS: train.edge_index.long(),
        CO_PURCHASED: torch.as_tensor(copurchase).long().reshape(2, -1),
    }
    forward |= {et: torch.from_numpy(e).long() for et, e in _structure_edges(snapshot).items()}
    edges: dict[EdgeType, Tensor] = {}
    for (src, rel, dst), ei in forward.items():
        if src == dst:
            edges[(src, rel, dst)] = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)
        else:
            edges[(src, rel, dst)] = ei
            edges[(dst, f"rev_{rel}", src)] = ei.flip(0)
    if metadata is None:
        edge_types = [et for et, ei in edges.items() if ei.size(1) > 0]
        node_types = sorted({"user", "product"} | {t for et in edge_types for t in (et[0], et[2])})
    else:
        node_types, edge_types = list(metadata[0]), [tuple(et) for et in metadata[1]]  # type: ignore[misc]
    data = HeteroData()
    for t in node_types:
        n = snapshot.num(t)
        data[t].num_nodes = n
        data[t].id_index = id_index[t] if id_index is not None else torch.arange(n)
    data["product"].x = torch.from_numpy(snapshot.product_embeddings)
    data["product"].x_mask = torch.from_numpy(snapshot.embedding_mask)
    for et in edge_types:
        data[et].edge_index = edges.get(et, torch.zeros(2, 0, dtype=torch.long))
    return data


def align_id_index(snapshot: GraphSnapshot, id_maps: dict[str, list[str]]) -> dict[str, Tensor]:
    """For each node type, the model row of every snapshot node (``-1`` = unseen at training)."""
    out = {}
    for t, ids in snapshot.ids.items():
        known = {v: i for i, v in enumerate(id_maps.get(t, []))}
        out[t] = torch.tensor([known.get(v, -1) for v in ids], dtype=torch.long)
    return out


def prepare_data(snapshot: GraphSnapshot, config: DataConfig | None = None) -> PreparedData:
    """Split the snapshot and build the leak-free training graph."""
    config = config or DataConfig()
    if snapshot.num("user") == 0 or snapshot.num("product") == 0:
        raise ModelError("the graph has no users or no products: ingest data before training")
    split, train_lines, kind, stats, reason = make_split(snapshot, config)
    if train_lines is not None and snapshot.orders is not None:
        cp = copurchase_pairs(
            snapshot.orders, train_lines, snapshot.num("product"), config.copurchase_top_k, config.max_order_items
        )
    else:
        cp = np.zeros((2, 0), np.int64)
    data = build_hetero_data(snapshot, split.train, cp)
    stats = {**stats, "copurchase_edges": int(cp.shape[1])}
    return PreparedData(snapshot, split, data, torch.from_numpy(cp), kind, stats, config, reason, train_lines)


def _test_lines(prepared: PreparedData) -> np.ndarray:
    """Bool per snapshot order line: a line of the test period (the same periods as ``make_split``)."""
    from kgrec.gnn.splits import order_ranks

    orders, config = prepared.snapshot.orders, prepared.config
    assert orders is not None
    if prepared.split_kind == "random":  # lines follow their (customer, product) pair
        test = prepared.split.test.edge_index
        keys = test[0].numpy().astype(np.int64) * prepared.split.test.num_items + test[1].numpy()
        return np.isin(orders.user.astype(np.int64) * prepared.split.test.num_items + orders.product, keys)
    ranked, order_time = order_ranks(orders)
    is_test = np.zeros(len(orders.order_ids), bool)
    if prepared.split_kind == "leave-last-basket":
        order_user = np.zeros(len(orders.order_ids), dtype=np.int64)
        order_user[orders.order] = orders.user
        by_user = ranked[np.argsort(order_user[ranked], kind="stable")]
        users = order_user[by_user]
        last = np.r_[users[1:] != users[:-1], True]
        first = np.r_[True, users[1:] != users[:-1]]
        is_test[by_user[last & ~first]] = True  # the last order of customers with two or more
    elif config.split_by == "time":
        t0, t1 = int(order_time[ranked].min()), int(order_time[ranked].max())
        is_test[ranked[order_time[ranked] >= t1 - config.test_frac * (t1 - t0)]] = True
    else:
        is_test[ranked[len(ranked) - max(1, math.ceil(config.test_frac * len(ranked))) :]] = True
    return is_test[orders.order]


def refit_data(prepared: PreparedData) -> PreparedData:
    """The refit-after-selection data: train = train ∪ valid pairs, no validation, the same test.

    Hyper-parameters (and epoch counts) are chosen on ``prepared``'s validation split; the chosen
    models are then refitted here and tested once. Co-purchase edges (and ``train_lines``) come
    from every order line outside the test period, so the test orders stay unseen.
    """
    split = prepared.split
    both = torch.cat([split.train.edge_index, split.valid.edge_index], 1).long()
    train = Interactions(split.train.num_users, split.train.num_items, torch.unique(both, dim=1))
    empty = Interactions(train.num_users, train.num_items, torch.zeros(2, 0, dtype=torch.long))
    snapshot, config = prepared.snapshot, prepared.config
    lines = None
    cp = np.zeros((2, 0), np.int64)
    if prepared.train_lines is not None and snapshot.orders is not None:
        lines = ~_test_lines(prepared)
        cp = copurchase_pairs(
            snapshot.orders, lines, snapshot.num("product"), config.copurchase_top_k, config.max_order_items
        )
    data = build_hetero_data(snapshot, train, cp)
    stats = {
        **prepared.stats,
        "train_pairs": train.num_edges,
        "valid_pairs": 0,
        "valid_users": 0,
        "copurchase_edges": int(cp.shape[1]),
    }
    reason = f"refit on train+valid of: {prepared.split_reason}".rstrip(": ")
    return PreparedData(
        snapshot, LinkSplit(train, empty, split.test), data, torch.from_numpy(cp), prepared.split_kind,
        stats, config, reason, lines,
    )  # fmt: skip

"""Train / valid / test splits of user→product interactions, deterministic and leak-free.

* :func:`temporal_split` — order data: orders sorted by (time, order id); the last ``test_frac``
  (of orders, or of the time span) is test, the ``valid_frac`` before it valid, the rest train.
  Targets of a period are the (user, product) pairs first bought in that period: repeat purchases
  of earlier positives are not targets (evaluation masks training positives anyway). Users with no
  training purchase cannot be ranked by an id model; their targets are dropped by default and
  counted in ``stats`` (serve them with the basket cold-start path instead). Products unseen in
  train stay as targets: the GNN scores them from text and graph neighbours.
* :func:`official_split` — benchmark data whose edges carry a ``split`` marker from ingest.
* :func:`random_split` — seeded per-edge fallback for graphs with neither timestamps nor markers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from kgrec.gnn.contract import Interactions, LinkSplit
from kgrec.kg.errors import ModelError
from kgrec.kg.export import EdgeKey, GraphSnapshot, OrderRows

VALID_MARKERS = {"valid", "validation", "val", "tune", "dev"}
TRAIN_MARKERS = {"train", "base"}


@dataclass(frozen=True)
class TemporalSplit:
    """A temporal split plus which order lines were training lines."""

    split: LinkSplit
    train_lines: np.ndarray  # bool per row of the snapshot's OrderRows
    valid_start: int  # epoch seconds of the first valid order
    test_start: int
    stats: dict[str, int] = field(default_factory=dict)


def _pairs(users: np.ndarray, items: np.ndarray, num_items: int) -> np.ndarray:
    return np.unique(users.astype(np.int64) * num_items + items.astype(np.int64))


def _interactions(keys: np.ndarray, num_users: int, num_items: int) -> Interactions:
    keys = np.sort(keys)
    edge_index = torch.from_numpy(np.stack([keys // num_items, keys % num_items])).long()
    return Interactions(num_users, num_items, edge_index.reshape(2, -1))


def temporal_split(
    orders: OrderRows,
    num_users: int,
    num_items: int,
    valid_frac: float = 0.1,
    test_frac: float = 0.1,
    by: Literal["orders", "time"] = "orders",
    drop_cold_users: bool = True,
) -> TemporalSplit:
    """Split order lines by time into train / valid / test link targets (see module doc)."""
    if len(orders) == 0:
        raise ModelError("no order lines to split: ingest orders with timestamps first")
    if not (0 < valid_frac < 1 and 0 < test_frac < 1 and valid_frac + test_frac < 1):
        raise ModelError(f"valid_frac={valid_frac} and test_frac={test_frac} must be in (0, 1) and sum below 1")
    ranked, order_time = order_ranks(orders)
    present = ranked
    period = np.zeros(len(orders.order_ids), dtype=np.int8)  # 0 train, 1 valid, 2 test
    if by == "orders":
        n = len(ranked)
        n_test = max(1, math.ceil(test_frac * n))
        n_valid = max(1, math.ceil(valid_frac * n))
        if n_test + n_valid >= n:
            raise ModelError(f"only {n} orders: too few for a temporal split; use random_split")
        period[ranked[n - n_test :]] = 2
        period[ranked[n - n_test - n_valid : n - n_test]] = 1
    elif by == "time":
        t0, t1 = int(order_time[present].min()), int(order_time[present].max())
        span = t1 - t0
        test_cut = t1 - test_frac * span
        valid_cut = test_cut - valid_frac * span
        period[present[order_time[present] >= valid_cut]] = 1
        period[present[order_time[present] >= test_cut]] = 2
    else:
        raise ModelError(f"split by {by!r}: use 'orders' or 'time'")
    first = lambda p: int(order_time[present][period[present] == p].min()) if (period[present] == p).any() else 0  # noqa: E731
    split, train_lines, stats = split_by_order_period(orders, period, num_users, num_items, drop_cold_users)
    return TemporalSplit(split, train_lines, first(1), first(2), stats)


def order_ranks(orders: OrderRows) -> tuple[np.ndarray, np.ndarray]:
    """Orders present in ``orders`` sorted by (time, order index), and each order's first line time."""
    order_time = np.full(len(orders.order_ids), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(order_time, orders.order, orders.timestamp)
    present = np.unique(orders.order)
    return present[np.lexsort((present, order_time[present]))], order_time


def leave_last_basket_split(
    orders: OrderRows, num_users: int, num_items: int, drop_cold_users: bool = True
) -> TemporalSplit:
    """Each customer's last order is test (customers with ≥ 2 orders), the one before valid (≥ 3).

    The split for shops whose customers come back a few times each: every returning customer
    contributes a target, however early in the year they shop. Targets are, as in the temporal
    split, the products the customer had not bought before.
    """
    if len(orders) == 0:
        raise ModelError("no order lines to split: ingest orders with timestamps first")
    ranked, order_time = order_ranks(orders)
    order_user = np.zeros(len(orders.order_ids), dtype=np.int64)
    order_user[orders.order] = orders.user
    by_user = ranked[np.argsort(order_user[ranked], kind="stable")]  # per user, by time
    users = order_user[by_user]
    starts = np.r_[0, np.flatnonzero(users[1:] != users[:-1]) + 1]
    sizes = np.diff(np.r_[starts, users.size])
    from_end = np.repeat(starts + sizes, sizes) - np.arange(users.size)  # 1 = last order of the user
    count = np.repeat(sizes, sizes)
    period = np.zeros(len(orders.order_ids), dtype=np.int8)
    period[by_user[(from_end == 1) & (count >= 2)]] = 2
    period[by_user[(from_end == 2) & (count >= 3)]] = 1
    split, train_lines, stats = split_by_order_period(orders, period, num_users, num_items, drop_cold_users)
    first = lambda p: int(order_time[ranked][period[ranked] == p].min()) if (period[ranked] == p).any() else 0  # noqa: E731
    return TemporalSplit(split, train_lines, first(1), first(2), stats)


def random_order_split(
    orders: OrderRows, num_users: int, num_items: int, valid_frac: float = 0.1, test_frac: float = 0.1, seed: int = 42
) -> TemporalSplit:
    """:func:`random_split` over the distinct (customer, product) pairs of the orders; lines follow their pair."""
    if len(orders) == 0:
        raise ModelError("no order lines to split: ingest orders first")
    pairs = np.stack([orders.user, orders.product]).astype(np.int64)
    split = random_split(pairs, num_users, num_items, valid_frac, test_frac, seed)
    train_keys = split.train.edge_index[0].numpy() * num_items + split.train.edge_index[1].numpy()
    train_lines = np.isin(pairs[0] * num_items + pairs[1], train_keys)
    stats = {"train_pairs": split.train.num_edges, "valid_pairs": split.valid.num_edges}
    stats["test_pairs"] = split.test.num_edges
    return TemporalSplit(split, train_lines, 0, 0, stats)


def split_by_order_period(
    orders: OrderRows, period: np.ndarray, num_users: int, num_items: int, drop_cold_users: bool = True
) -> tuple[LinkSplit, np.ndarray, dict[str, int]]:
    """Targets of orders marked 1 (valid) / 2 (test) in ``period`` (one entry per order index).

    A target is a (customer, product) pair first bought in its period; pairs of customers with no
    training purchase are dropped when ``drop_cold_users`` (and counted in the stats).
    """
    line_period = period[orders.order]
    train_lines = line_period == 0
    if not train_lines.any():
        raise ModelError("the split left no training orders; lower valid_frac/test_frac")
    train = _pairs(orders.user[train_lines], orders.product[train_lines], num_items)
    valid_all = _pairs(orders.user[line_period == 1], orders.product[line_period == 1], num_items)
    test_all = _pairs(orders.user[line_period == 2], orders.product[line_period == 2], num_items)
    valid = np.setdiff1d(valid_all, train)
    test = np.setdiff1d(np.setdiff1d(test_all, train), valid_all)
    train_users = np.unique(train // num_items)
    train_items = np.unique(train % num_items)
    stats = {
        "train_pairs": int(train.size),
        "valid_repeat_pairs": int(valid_all.size - valid.size),
        "test_repeat_pairs": int(test_all.size - test.size),
    }
    kept: dict[str, np.ndarray] = {}
    for name, keys in (("valid", valid), ("test", test)):
        cold_user = ~np.isin(keys // num_items, train_users)
        stats[f"{name}_cold_user_pairs"] = int(cold_user.sum())
        stats[f"{name}_cold_item_pairs"] = int((~np.isin(keys % num_items, train_items)).sum())
        kept[name] = keys[~cold_user] if drop_cold_users else keys
        stats[f"{name}_pairs"] = int(kept[name].size)
        stats[f"{name}_users"] = int(np.unique(kept[name] // num_items).size)
    split = LinkSplit(*(_interactions(k, num_users, num_items) for k in (train, kept["valid"], kept["test"])))
    return split, train_lines, stats


def official_split(snapshot: GraphSnapshot, key: EdgeKey) -> LinkSplit:
    """A split from the ``split`` marker ingest stored on each edge of ``key`` (train/valid|tune/test)."""
    if key not in snapshot.edge_split:
        raise ModelError(f"edges {key} carry no split marker; use temporal_split or random_split")
    edges, markers = snapshot.edge(key), snapshot.edge_split[key]
    num_users, num_items = snapshot.num(key[0]), snapshot.num(key[2])
    names = np.array([str(m).lower() if m is not None else "train" for m in markers])
    unknown = set(names) - TRAIN_MARKERS - VALID_MARKERS - {"test"}
    if unknown:
        raise ModelError(f"unknown split markers {sorted(unknown)} on {key}: use train, valid/tune or test")
    keys = edges[0] * num_items + edges[1]
    train = np.unique(keys[np.isin(names, list(TRAIN_MARKERS))])
    valid = np.setdiff1d(np.unique(keys[np.isin(names, list(VALID_MARKERS))]), train)
    test = np.setdiff1d(np.unique(keys[names == "test"]), train)
    return LinkSplit(*(_interactions(k, num_users, num_items) for k in (train, valid, test)))


def random_split(
    edge_index: np.ndarray,
    num_users: int,
    num_items: int,
    valid_frac: float = 0.1,
    test_frac: float = 0.1,
    seed: int = 42,
) -> LinkSplit:
    """Seeded per-pair split; users keep at least one training pair."""
    keys = _pairs(edge_index[0], edge_index[1], num_items)
    rng = np.random.default_rng(seed)
    draw = rng.random(keys.size)
    period = np.where(draw < test_frac, 2, np.where(draw < test_frac + valid_frac, 1, 0))
    users = keys // num_items
    first_of_user = np.r_[True, users[1:] != users[:-1]]
    period[first_of_user] = 0
    return LinkSplit(*(_interactions(keys[period == p], num_users, num_items) for p in (0, 1, 2)))

"""Which splits a shop supports: returning customers, one-time buyers, and never a silent zero."""

from __future__ import annotations

import numpy as np
import pytest

from kgrec.gnn.contract import Interactions
from kgrec.gnn.data import DataConfig, prepare_data
from kgrec.gnn.shop_profile import profile_orders, require_targets
from kgrec.gnn.splits import leave_last_basket_split, random_order_split
from kgrec.kg.errors import ModelError
from kgrec.kg.export import GraphSnapshot, OrderRows


def _orders(rows: list[tuple[int, int, int, int]]) -> OrderRows:
    """Rows of (user, order, product, time)."""
    u, o, p, t = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    return OrderRows(u, o, p, t, [f"o{i}" for i in range(int(o.max()) + 1)])


def _snapshot(orders: OrderRows, users: int, products: int) -> GraphSnapshot:
    ids = {"user": [f"u{i:03d}" for i in range(users)], "product": [f"p{i:03d}" for i in range(products)]}
    return GraphSnapshot(
        ids,
        {},
        orders=orders,
        product_embeddings=np.zeros((products, 4), np.float32),
        embedding_mask=np.zeros(products, bool),
        product_titles=[None] * products,
    )


def _pairs(part: Interactions) -> set[tuple[int, int]]:
    return {(int(u), int(i)) for u, i in part.edge_index.t().tolist()}


def test_leave_last_basket_holds_out_each_returning_customers_last_orders() -> None:
    rows = [
        (0, 0, 0, 1), (0, 0, 1, 1), (0, 1, 2, 5), (0, 2, 3, 9), (0, 2, 0, 9),  # three orders
        (1, 3, 1, 2), (1, 4, 4, 3),  # two orders
        (2, 5, 5, 4),  # one order: all training
    ]  # fmt: skip
    ts = leave_last_basket_split(_orders(rows), num_users=3, num_items=6)
    assert _pairs(ts.split.test) == {(0, 3), (1, 4)}  # (0, 0) was bought before: not a target
    assert _pairs(ts.split.valid) == {(0, 2)}
    assert _pairs(ts.split.train) == {(0, 0), (0, 1), (1, 1), (2, 5)}
    assert ts.train_lines.tolist() == [True, True, False, False, False, True, False, True]
    assert ts.stats["test_users"] == 2 and ts.stats["valid_users"] == 1


def test_random_order_split_is_seeded_and_lines_follow_their_pair() -> None:
    rng = np.random.default_rng(0)
    rows = [(u, u * 10 + k, int(p), k) for u in range(30) for k, p in enumerate(rng.choice(40, 6, replace=False))]
    a = random_order_split(_orders(rows), 30, 40, seed=3)
    b = random_order_split(_orders(rows), 30, 40, seed=3)
    assert _pairs(a.split.test) == _pairs(b.split.test) and a.split.test.num_edges > 0
    orders = _orders(rows)
    in_train = {(int(u), int(p)) for u, p, keep in zip(orders.user, orders.product, a.train_lines, strict=True) if keep}
    assert in_train == _pairs(a.split.train)


def test_profile_counts_returning_customers_and_baskets() -> None:
    rows = [(0, 0, 0, 1), (0, 0, 1, 1), (0, 1, 2, 2), (1, 2, 3, 3), (2, 3, 0, 4), (2, 3, 0, 4)]
    profile = profile_orders(_orders(rows))
    assert (profile.customers, profile.orders, profile.customers_2_orders, profile.baskets_2_items) == (3, 4, 1, 1)
    assert profile.mean_basket_size == pytest.approx(5 / 4)


def _one_order_shop(customers: int = 200, products: int = 60) -> GraphSnapshot:
    rng = np.random.default_rng(1)
    rows = [(c, c, int(p), c) for c in range(customers) for p in rng.choice(products, 4, replace=False)]
    return _snapshot(_orders(rows), customers, products)


def test_one_order_shop_is_refused_with_the_task_to_use() -> None:
    snap = _one_order_shop()
    for split in ("auto", "temporal", "leave-last-basket"):
        with pytest.raises(ModelError, match=r"--task basket") as error:
            prepare_data(snap, DataConfig(split=split))
        assert "0 of 200 customers ordered more than once" in str(error.value)


def test_auto_falls_back_to_leave_last_basket_when_the_time_cut_is_thin() -> None:
    # 40 customers, three orders each, one after another: a global cut at the end of the year
    # reaches only the last customer or two, but every customer has a last order
    rows = [(c, 3 * c + k, (c + 5 * k + j) % 30, c * 10 + k) for c in range(40) for k in range(3) for j in range(2)]
    prepared = prepare_data(_snapshot(_orders(rows), 40, 30), DataConfig(valid_frac=0.05, test_frac=0.05))
    assert prepared.split_kind == "leave-last-basket"
    assert "temporal left" in prepared.split_reason
    assert prepared.split.test.users().numel() == 40


def test_require_targets_names_the_counts() -> None:
    snap = _one_order_shop(30)
    ts = leave_last_basket_split(snap.orders, 30, 60)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="leaves 0 validation and 0 test customers"):
        require_targets(ts.split, "leave-last-basket", profile_orders(snap.orders))

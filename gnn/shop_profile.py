"""What a shop's orders can support: which splits and tasks give an evaluation worth printing.

Many shops sell mostly to one-time buyers (guest checkouts, sessions). A global temporal split then
leaves almost no customer with purchases on both sides of the cut, and every metric is computed
over zero targets. :func:`profile_orders` counts what matters, :func:`choose_split` picks the
first user→product split that leaves enough customers to rank (temporal, then leave-last-basket),
and :func:`require_targets` refuses a split that does not, naming the alternative.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kgrec.kg.errors import ModelError

if TYPE_CHECKING:  # torch (and numpy, see profile_orders) stay out of `kgrec stats`
    from kgrec.gnn.contract import LinkSplit
    from kgrec.kg.export import OrderRows

#: Fewest customers with targets in the validation and in the test split for a ranking evaluation.
MIN_EVAL_USERS = 10
#: Fewest held-out baskets (of at least two products) for the basket-completion task.
MIN_EVAL_BASKETS = 50


@dataclass(frozen=True)
class ShopProfile:
    """Counts of a shop's orders that decide which evaluations are meaningful."""

    customers: int
    orders: int
    order_lines: int
    customers_2_orders: int  # customers with at least two orders: leave-last-basket targets
    customers_3_orders: int  # ... and at least three: leave-last-basket validation
    baskets_2_items: int  # orders with at least two distinct products: basket completion
    mean_basket_size: float
    products: int = 0
    products_without_text: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ShopProfile:
        """From the ``shop_profile`` query's row."""
        return cls(
            customers=int(row["customers"]),
            orders=int(row["orders"]),
            order_lines=int(row["order_lines"]),
            customers_2_orders=int(row["customers_2_orders"]),
            customers_3_orders=int(row["customers_3_orders"]),
            baskets_2_items=int(row["baskets_2_items"]),
            mean_basket_size=float(row["mean_basket_size"]),
            products=int(row["products"]),
            products_without_text=int(row["products_without_text"]),
        )

    def advice(self) -> list[str]:
        """One line per task/split saying whether it will be meaningful here, and why."""
        lines = []
        returning = self.customers_2_orders / max(self.customers, 1)
        ok = self.customers_3_orders >= MIN_EVAL_USERS
        lines.append(
            f"user→product ranking (--split temporal or leave-last-basket): "
            f"{'meaningful' if ok else 'NOT meaningful'}; {self.customers_2_orders:,} of {self.customers:,} "
            f"customers ({returning:.0%}) ordered twice, {self.customers_3_orders:,} three times "
            f"(needs ≥ {MIN_EVAL_USERS})"
        )
        ok = self.baskets_2_items >= 2 * MIN_EVAL_BASKETS
        lines.append(
            f"basket completion (--task basket): {'meaningful' if ok else 'NOT meaningful'}; "
            f"{self.baskets_2_items:,} orders with ≥ 2 products (needs ≥ {2 * MIN_EVAL_BASKETS}), "
            f"{self.mean_basket_size:.1f} products per order on average"
        )
        return lines

    def suggestion(self, tried: str = "") -> str:
        """The split or task to use when the ``tried`` split(s) cannot be evaluated."""
        if "leave-last-basket" not in tried and self.customers_3_orders >= MIN_EVAL_USERS:
            return "use --split leave-last-basket (each customer's last order is the target)"
        if self.baskets_2_items >= 2 * MIN_EVAL_BASKETS:
            return (
                "most customers bought once: use --task basket (complete held-out baskets from "
                "their other products), which needs no returning customers"
            )
        return "ingest more orders: too few customers and baskets to evaluate anything"


def profile_orders(orders: OrderRows | None) -> ShopProfile:
    """Count customers, returning customers, baskets of ≥ 2 products (all zero without orders)."""
    if orders is None or len(orders) == 0:
        return ShopProfile(0, 0, 0, 0, 0, 0, 0.0)
    import numpy as np  # here, not at the top: `kgrec stats` reads a ShopProfile and needs no numpy

    num_orders = len(orders.order_ids)
    order_user = np.full(num_orders, -1, dtype=np.int64)
    order_user[orders.order] = orders.user
    present = np.unique(orders.order)
    per_user = np.bincount(order_user[present])
    distinct = np.unique(orders.order.astype(np.int64) * (int(orders.product.max()) + 1) + orders.product)
    basket_size = np.bincount(distinct // (int(orders.product.max()) + 1), minlength=num_orders)[present]
    return ShopProfile(
        customers=int((per_user > 0).sum()),
        orders=int(present.size),
        order_lines=len(orders),
        customers_2_orders=int((per_user >= 2).sum()),
        customers_3_orders=int((per_user >= 3).sum()),
        baskets_2_items=int((basket_size >= 2).sum()),
        mean_basket_size=float(basket_size.mean()) if basket_size.size else 0.0,
    )


def target_users(split: LinkSplit) -> tuple[int, int]:
    """Customers with at least one validation target, and with at least one test target."""
    return (
        int(split.valid.users().numel()) if split.valid.num_edges else 0,
        int(split.test.users().numel()) if split.test.num_edges else 0,
    )


def require_targets(split: LinkSplit, kind: str, profile: ShopProfile, min_users: int = MIN_EVAL_USERS) -> None:
    """Refuse a split whose evaluation would rank for too few customers, and say what to use instead."""
    valid_users, test_users = target_users(split)
    if min(valid_users, test_users) >= min_users:
        return
    raise ModelError(
        f"the {kind} split leaves {valid_users} validation and {test_users} test customers with "
        f"products to predict (at least {min_users} each are needed for a meaningful evaluation); "
        f"{profile.customers_2_orders:,} of {profile.customers:,} customers ordered more than once: "
        f"{profile.suggestion(kind)}"
    )

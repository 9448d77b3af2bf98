"""A small shop graph written with parameterised Cypher in the ingest conventions (no tests here).

Four themed categories of products; each user prefers one theme and buys mostly from it, so a
model that learns anything ranks the held-out products of the user's theme first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kg.connection import GraphConnection
from kg.schema import Label, Rel

THEMES = {
    "Kitchen > Mugs": ["ceramic coffee mug", "tea cup and saucer", "espresso cup set", "travel mug"],
    "Home > Candles": ["scented candle jar", "tea light holder", "pillar candle", "candle lantern"],
    "Garden > Tools": ["garden trowel", "pruning shears", "watering can", "hand rake"],
    "Toys > Games": ["wooden puzzle", "playing cards", "board game", "jigsaw puzzle"],
}


@dataclass
class ShopGraph:
    """Ground truth of what was written."""

    users: list[str]
    products: list[str]
    theme_of: dict[str, str]
    orders: list[tuple[str, str, int, list[str]]] = field(default_factory=list)  # user, order, ts, items


def build_shop_graph(conn: GraphConnection, n_users: int = 24, per_theme: int = 10, orders_per_user: int = 5,
                     seed: int = 0) -> ShopGraph:
    """Write products (title, description, category, brand), users, orders and PURCHASED."""
    rng = np.random.default_rng(seed)
    products, theme_of, rows = [], {}, []
    for t, (path, names) in enumerate(THEMES.items()):
        for i in range(per_theme):
            pid = f"P{t}{i:02d}"
            name = names[i % len(names)]
            products.append(pid)
            theme_of[pid] = path
            rows.append({"id": pid, "title": f"{name.upper()} {i}", "description": f"a {name} for the {path.split(' > ')[1].lower()}",
                         "price": float(1 + i), "cat": path, "catname": path.split(" > ")[1], "brand": f"brand{t % 2}"})
    conn.write_batches(
        f"UNWIND $rows AS r MERGE (p:{Label.PRODUCT} {{id: r.id}}) "
        "SET p.title = r.title, p.description = r.description, p.price = r.price "
        f"MERGE (c:{Label.CATEGORY} {{path: r.cat}}) SET c.name = r.catname, c.level = 1 "
        f"MERGE (p)-[:{Rel.IN_CATEGORY}]->(c) "
        f"MERGE (b:{Label.BRAND} {{name: r.brand}}) MERGE (p)-[:{Rel.MADE_BY}]->(b)",
        rows,
    )
    themes = list(THEMES)
    users = [f"U{u:03d}" for u in range(n_users)]
    shop = ShopGraph(users, products, theme_of)
    for u, uid in enumerate(users):
        own = [p for p in products if theme_of[p] == themes[u % len(themes)]]
        for k in range(orders_per_user):
            items = list(rng.choice(own, 3, replace=False))
            if rng.random() < 0.3:
                items.append(str(rng.choice(products)))
            ts = 1_600_000_000 + int(rng.integers(0, 365 * 86400))
            shop.orders.append((uid, f"O{u:03d}-{k}", ts, sorted(set(map(str, items)))))
    write_orders(conn, shop.orders)
    return shop


def write_orders(conn: GraphConnection, orders: list[tuple[str, str, int, list[str]]]) -> None:
    """Users, orders, CONTAINS lines and the derived PURCHASED edges."""
    conn.write_batches(
        f"UNWIND $rows AS r MERGE (u:{Label.USER} {{id: r.user}}) "
        f"MERGE (o:{Label.ORDER} {{id: r.order}}) SET o.timestamp = datetime({{epochSeconds: r.ts}}) "
        f"MERGE (u)-[:{Rel.PLACED}]->(o) WITH o, r UNWIND r.items AS pid "
        f"MATCH (p:{Label.PRODUCT} {{id: pid}}) MERGE (o)-[c:{Rel.CONTAINS}]->(p) SET c.quantity = 1, c.price = 1.0",
        [{"user": u, "order": o, "ts": ts, "items": items} for u, o, ts, items in orders],
    )
    conn.write(
        f"MATCH (u:{Label.USER})-[:{Rel.PLACED}]->(:{Label.ORDER})-[:{Rel.CONTAINS}]->(p:{Label.PRODUCT}) "
        f"WITH u, p, count(*) AS n MERGE (u)-[r:{Rel.PURCHASED}]->(p) SET r.count = n, r.quantity = n"
    )


def set_random_vectors(conn: GraphConnection, products: list[str], dim: int = 8, seed: int = 0) -> None:
    """Fast stand-in text vectors (tests of the GNN that do not test the text model)."""
    rng = np.random.default_rng(seed)
    rows = [{"id": p, "v": rng.normal(size=dim).astype(np.float32).tolist()} for p in products]
    conn.write_batches(f"UNWIND $rows AS r MATCH (p:{Label.PRODUCT} {{id: r.id}}) SET p.embedding = r.v", rows)

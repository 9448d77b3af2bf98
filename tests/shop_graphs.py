"""Small shop graphs written with parameterised Cypher in the ingest conventions (no tests here).

``build_shop`` is a six-product hand-built shop that the query, explanation and API tests read.
``build_shop_graph`` is a themed shop for the learning tests:

Four themed categories of products; each user prefers one theme and buys mostly from it, so a
model that learns anything ranks the held-out products of the user's theme first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kgrec.kg.connection import GraphConnection
from kgrec.kg.schema import Label, Rel

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


def build_shop_graph(
    conn: GraphConnection, n_users: int = 24, per_theme: int = 10, orders_per_user: int = 5, seed: int = 0
) -> ShopGraph:
    """Write products (title, description, category, brand), users, orders and PURCHASED."""
    rng = np.random.default_rng(seed)
    products, theme_of, rows = [], {}, []
    for t, (path, names) in enumerate(THEMES.items()):
        for i in range(per_theme):
            pid = f"P{t}{i:02d}"
            name = names[i % len(names)]
            products.append(pid)
            theme_of[pid] = path
            rows.append(
                {
                    "id": pid,
                    "title": f"{name.upper()} {i}",
                    "description": f"a {name} for the {path.split(' > ')[1].lower()}",
                    "price": float(1 + i),
                    "cat": path,
                    "catname": path.split(" > ")[1],
                    "brand": f"brand{t % 2}",
                }
            )
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


# -- the hand-built six-product shop -------------------------------------------------------
PRODUCTS = [
    # id, title, price, category path, brand, colour
    ("P1", "WHITE HANGING HEART T-LIGHT HOLDER", 2.55, "Home > Candles", "Acme", "white"),
    ("P2", "RED HANGING HEART T-LIGHT HOLDER", 2.95, "Home > Candles", "Acme", "red"),
    ("P3", "JUMBO BAG RED RETROSPOT", 1.95, "Bags > Jumbo", "Retro", "red"),
    ("P4", "LUNCH BAG RED RETROSPOT", 1.65, "Bags > Lunch", "Retro", "red"),
    ("P5", "PARTY BUNTING", 4.95, "Party > Decorations", None, None),
    ("P6", "ALARM CLOCK BAKELIKE GREEN", 3.75, "Home > Clocks", None, "green"),
]
PURCHASES = [  # user, product, count, last day of Jan 2011
    ("U1", "P1", 3, 20), ("U1", "P3", 1, 5),
    ("U2", "P1", 1, 2), ("U2", "P2", 2, 3), ("U2", "P3", 1, 4),
    ("U3", "P1", 1, 2), ("U3", "P2", 1, 3), ("U3", "P4", 1, 4),
    ("U4", "P3", 1, 2), ("U4", "P4", 1, 3), ("U4", "P5", 1, 4), ("U4", "P2", 1, 5),
    ("U6", "P2", 1, 6),
]  # fmt: skip
BOUGHT_WITH = [  # a, b, lift, confidence a→b, confidence b→a, support, orders
    ("P1", "P2", 12.3, 0.6, 0.5, 0.05, 41),
    ("P3", "P4", 5.0, 0.4, 0.45, 0.02, 12),
    ("P1", "P3", 1.5, 0.1, 0.12, 0.004, 3),
]
BUNDLES = [("B1", "Heart set", ["P1", "P2", "P6"]), ("B2", "Party bags", ["P3", "P5"])]


def build_shop(conn: GraphConnection) -> None:
    """A six-product shop: categories, brands, attributes, purchases, one order, co-purchases, bundles."""
    categories = sorted({p[3] for p in PRODUCTS} | {p[3].split(" > ")[0] for p in PRODUCTS})
    conn.write(
        "UNWIND $rows AS row MERGE (c:Category {path: row.path}) SET c.name = row.name, c.level = row.level",
        {"rows": [{"path": c, "name": c.split(" > ")[-1], "level": c.count(" > ")} for c in categories]},
    )
    conn.write(
        "MATCH (c:Category) WHERE c.path CONTAINS ' > ' "
        "MATCH (parent:Category {path: split(c.path, ' > ')[0]}) MERGE (c)-[:CHILD_OF]->(parent)"
    )
    conn.write(
        "UNWIND $rows AS row CREATE (p:Product {id: row.id, title: row.title, price: row.price, "
        "description: row.title + ' for your home'}) "
        "WITH p, row MATCH (c:Category {path: row.category}) CREATE (p)-[:IN_CATEGORY]->(c) "
        "WITH p, row WHERE row.brand IS NOT NULL MERGE (b:Brand {name: row.brand}) CREATE (p)-[:MADE_BY]->(b) ",
        {"rows": [dict(zip(("id", "title", "price", "category", "brand"), p[:5], strict=True)) for p in PRODUCTS]},
    )
    conn.write(
        "UNWIND $rows AS row MATCH (p:Product {id: row.id}) "
        "MERGE (a:Attribute {key: 'colour=' + row.colour}) SET a.name = 'colour', a.value = row.colour, "
        "a.derived = true CREATE (p)-[:HAS_ATTRIBUTE]->(a)",
        {"rows": [{"id": p[0], "colour": p[5]} for p in PRODUCTS if p[5]]},
    )
    conn.write(
        "UNWIND $rows AS row MERGE (u:User {id: row.user}) WITH u, row MATCH (p:Product {id: row.product}) "
        "CREATE (u)-[:PURCHASED {count: row.count, quantity: row.count * 2, "
        "first: datetime({year: 2011, month: 1, day: 1}), last: datetime({year: 2011, month: 1, day: row.day})}]->(p)",
        {"rows": [dict(zip(("user", "product", "count", "day"), p, strict=True)) for p in PURCHASES]},
    )
    conn.write("CREATE (:User {id: $id})", {"id": "U5"})  # a user with no history
    conn.write(
        "MATCH (u:User {id: $user}) CREATE (u)-[:PLACED]->(o:Order {id: $order, timestamp: datetime($ts)}) "
        "WITH o UNWIND $products AS pid MATCH (p:Product {id: pid}) CREATE (o)-[:CONTAINS {quantity: 2}]->(p)",
        {"user": "U1", "order": "O1", "ts": "2011-01-20T10:00:00Z", "products": ["P1", "P3"]},
    )
    conn.write(
        "MATCH (u:User {id: $user}) MERGE (a:Attribute {key: $key}) SET a.name = 'colour', a.value = 'red' "
        "CREATE (u)-[:HAS_ATTRIBUTE]->(a)",
        {"user": "U1", "key": "colour=red"},
    )
    conn.write(
        "UNWIND $rows AS row MATCH (a:Product {id: row.a}), (b:Product {id: row.b}) "
        "CREATE (a)-[:BOUGHT_WITH {lift: row.lift, confidence: row.ca, support: row.support, orders: row.orders}]->(b) "
        "CREATE (b)-[:BOUGHT_WITH {lift: row.lift, confidence: row.cb, support: row.support, orders: row.orders}]->(a)",
        {"rows": [dict(zip(("a", "b", "lift", "ca", "cb", "support", "orders"), r, strict=True)) for r in BOUGHT_WITH]},
    )
    conn.write(
        "UNWIND $rows AS row CREATE (b:Bundle {id: row.id, title: row.title, source: 'test'}) "
        "WITH b, row UNWIND row.products AS pid MATCH (p:Product {id: pid}) CREATE (b)-[:INCLUDES]->(p)",
        {"rows": [{"id": b, "title": t, "products": ps} for b, t, ps in BUNDLES]},
    )
    conn.write("MATCH (u:User {id: 'U2'}), (b:Bundle {id: 'B1'}) CREATE (u)-[:INTERACTED_WITH {count: 1}]->(b)")
    conn.execute("CALL db.awaitIndexes(60)")


def build_bundle_families(conn: GraphConnection) -> None:
    """Two bundle families: b0/b1 over p0–p2 (taken by u0–u3, who bought p0–p2; u0 did not take b1),
    b2/b3 over p3–p5 (u4–u7, who bought p3–p5), and one mined bundle over p0 and p2."""
    conn.write("UNWIND range(0, 5) AS i CREATE (:Product {id: 'p' + i, title: 'P' + i})")
    conn.write(
        "UNWIND $rows AS r MERGE (b:Bundle {id: r.b}) SET b.source = r.s, b.title = r.b "
        "WITH b, r UNWIND r.items AS pid MATCH (p:Product {id: pid}) CREATE (b)-[:INCLUDES]->(p)",
        {
            "rows": [
                {"b": "b0", "s": "shop", "items": ["p0", "p1"]},
                {"b": "b1", "s": "shop", "items": ["p1", "p2"]},
                {"b": "b2", "s": "shop", "items": ["p3", "p4"]},
                {"b": "b3", "s": "shop", "items": ["p4", "p5"]},
                {"b": "mined:p0|p2", "s": "mined", "items": ["p0", "p2"]},
            ]
        },
    )
    rows = [{"u": f"u{u}", "b": b, "items": ["p0", "p1", "p2"]} for u in range(4) for b in ("b0", "b1")] + [
        {"u": f"u{u}", "b": b, "items": ["p3", "p4", "p5"]} for u in range(4, 8) for b in ("b2", "b3")
    ]
    conn.write(
        "UNWIND $rows AS r MERGE (u:User {id: r.u}) WITH u, r MATCH (b:Bundle {id: r.b}) "
        "MERGE (u)-[:INTERACTED_WITH]->(b) WITH u, r UNWIND r.items AS pid "
        "MATCH (p:Product {id: pid}) MERGE (u)-[:PURCHASED]->(p)",
        {"rows": rows},
    )
    conn.write("MATCH (:User {id: 'u0'})-[r:INTERACTED_WITH]->(:Bundle {id: 'b1'}) DELETE r")  # b1: 3 users

"""The corpus of broken inputs: each kind of damage a shop's export (or a public dataset) can carry.

A :class:`Case` builds its files in code (deterministically; large cases are generated, never
committed) and states its expected outcome: a fatal problem (one sentence matching ``fatal``,
nothing written) or, per file, the accepted row count and the quarantined ``(line, reason)``
pairs, plus graph facts that must hold afterwards. ``tests/reliability/test_corpus.py`` runs every
case against the real test server; ``bench/reliability.py`` counts kinds and crashes.

Canonical cases are folders (``files`` maps file name → bytes); dataset-reader cases
(``source`` set) are folders in a reader's own format under ``<data_dir>/<dataset folder>/``.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass, field

Files = dict[str, bytes]


@dataclass(frozen=True)
class Case:
    """One kind of broken input and what ingesting it must do."""

    name: str
    build: Callable[[], Files]
    #: Regex the one-sentence IngestError must match; None = the ingest must succeed.
    fatal: str | None = None
    #: file (without .csv) → rows accepted (merged duplicates included).
    accepted: dict[str, int] = field(default_factory=dict)
    #: file → [(physical line, reason)] of the quarantined rows, in line order.
    rejected: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    #: Cypher read returning one value ``v`` → the value expected after the ingest.
    graph: dict[str, object] = field(default_factory=dict)
    #: A named dataset (``movielens`` …): files are that reader's, under its folder of ``data_dir``.
    source: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    #: Large generated input: ingested once (the idempotence re-run is left to the small cases).
    heavy: bool = False


def text(*lines: str, end: str = "\n", encoding: str = "utf-8") -> bytes:
    return "".join(line + end for line in lines).encode(encoding)


PRODUCTS = ("product_id,title,price", "p1,Mug,3.5", "p2,Cup,2", "p3,Lamp,10")
ORDERS = ("order_id,user_id,timestamp", "o1,u1,2011-01-01T10:00:00Z", "o2,u2,2011-02-01T10:00:00Z")
ITEMS = ("order_id,product_id,quantity", "o1,p1,1", "o1,p2,2", "o2,p3,1")


def shop(**overrides: bytes | None) -> Callable[[], Files]:
    """The three-product, two-order base shop with some files replaced."""

    def build() -> Files:
        files: dict[str, bytes | None] = {
            "products": text(*PRODUCTS),
            "orders": text(*ORDERS),
            "order_items": text(*ITEMS),
        }
        files.update(overrides)
        return {k: v for k, v in files.items() if v is not None}

    return build


BASE_OK = {"products": 3, "orders": 2, "order_items": 3}
PRODUCT_COUNT = "MATCH (p:Product) RETURN count(p) AS v"
ORDER_COUNT = "MATCH (o:Order) RETURN count(o) AS v"
CONTAINS_COUNT = "MATCH (:Order)-[r:CONTAINS]->(:Product) RETURN count(r) AS v"


def title_of(pid: str) -> str:
    escaped = pid.replace("\\", "\\\\").replace("'", "\\'")
    return f"MATCH (p:Product {{id: '{escaped}'}}) RETURN p.title AS v"


def _big_field() -> Callable[[], Files]:
    def build() -> Files:
        big = "x" * 5_000_000
        return shop(products=text("product_id,title,description", "p1,Mug,ok", f"p2,Cup,{big}", "p3,Lamp,ok"))()

    return build


def _basket(n: int) -> Callable[[], Files]:
    def build() -> Files:
        products = ["product_id,title"] + [f"q{i:04d},item {i}" for i in range(n)]
        items = ["order_id,product_id,quantity"] + [f"big,q{i:04d},1" for i in range(n)]
        return {
            "products": text(*products),
            "orders": text("order_id,user_id,timestamp", "big,u1,2011-01-01T00:00:00Z"),
            "order_items": text(*items),
        }

    return build


def _attribute_columns(n: int) -> Callable[[], Files]:
    def build() -> Files:
        header = "product_id," + ",".join(f"attr:a{i:04d}" for i in range(n))
        rows = [f"p{j}," + ",".join(f"v{(i + j) % 3}" for i in range(n)) for j in range(3)]
        return {"products": text(header, *rows)}

    return build


def _many_rows(n: int) -> Callable[[], Files]:
    """``n`` products in which every 7th row is broken in one of a few ways (generated, deterministic)."""

    def build() -> Files:
        rows = ["product_id,title,price"]
        for i in range(n):
            if i % 7 == 3:
                rows.append(f"m{i},bad price,abc")
            elif i % 7 == 5:
                rows.append(f"m{i},too,many,fields")
            else:
                rows.append(f"m{i},item {i},{i % 50}.5")
        return {"products": text(*rows)}

    return build


CYPHER_ID = "p1'}) DETACH DELETE n //"
CYPHER_TITLE = "MATCH (n) DETACH DELETE n"
RTL = "\u202e"
TIMESTAMP_STYLES = (
    "2011-01-31T10:00:00Z",
    "2011-01-31T11:00:00+01:00",
    "2011-01-31 10:00:00",
    "2011-01-31",
    "1296468000",
    "1296468000000",
)

CANONICAL: list[Case] = [
    Case("clean baseline", shop(), accepted=BASE_OK, graph={PRODUCT_COUNT: 3, CONTAINS_COUNT: 3}),
    Case(
        "UTF-8 byte-order mark",
        shop(products=b"\xef\xbb\xbf" + text(*PRODUCTS)),
        accepted=BASE_OK,
        graph={PRODUCT_COUNT: 3},
    ),
    Case(
        "CRLF line endings",
        shop(products=text(*PRODUCTS, end="\r\n"), order_items=text(*ITEMS[:-1], "o2,p3,0", end="\r\n")),
        accepted={"products": 3, "orders": 2, "order_items": 2},
        rejected={"order_items": [(4, "nonpositive_quantity")]},
        graph={title_of("p3"): "Lamp"},
    ),
    Case(
        "semicolon-delimited (detected)",
        shop(products=text(*(r.replace(",", ";") for r in PRODUCTS))),
        accepted=BASE_OK,
        graph={title_of("p1"): "Mug"},
    ),
    Case(
        "tab-delimited (detected)",
        shop(products=text(*(r.replace(",", "\t") for r in PRODUCTS))),
        accepted=BASE_OK,
    ),
    Case(
        "semicolon file with --delimiter ','",
        shop(products=text(*(r.replace(",", ";") for r in PRODUCTS))),
        fatal=r"missing column\(s\) product_id.*semicolon-delimited: pass --delimiter ';'",
        delimiter=",",
    ),
    Case(
        "Latin-1 bytes without --encoding",
        shop(products=text("product_id,title", "p1,Café crème", "p2,Cup", "p3,Lamp", encoding="cp1252")),
        fatal=r"not UTF-8 \(byte 0xe9 on line 2\).*--encoding cp1252",
    ),
    Case(
        "Latin-1 bytes with --encoding cp1252",
        shop(products=text("product_id,title", "p1,Café crème", "p2,Cup", "p3,Lamp", encoding="cp1252")),
        accepted=BASE_OK,
        graph={title_of("p1"): "Café crème"},
        encoding="cp1252",
    ),
    Case(
        "UTF-16 with byte-order mark",
        shop(products=text(*PRODUCTS, encoding="utf-16")),
        accepted=BASE_OK,
        graph={title_of("p2"): "Cup"},
    ),
    Case("NUL bytes (binary file)", shop(products=b"product_id,title\np1,M\x00ug\n"), fatal=r"NUL bytes"),
    Case("empty products file", shop(products=b""), fatal=r"products.csv is empty"),
    Case(
        "header only",
        shop(products=text("product_id,title"), orders=text("order_id,user_id,timestamp"), order_items=None),
        accepted={"products": 0, "orders": 0},
        graph={PRODUCT_COUNT: 0},
    ),
    Case("no products.csv", lambda: {"orders": text(*ORDERS)}, fatal=r"has no products.csv"),
    Case(
        "missing required column",
        shop(order_items=text("order,product_id,quantity", "o1,p1,1")),
        fatal=r"order_items.csv: missing column\(s\) order_id",
    ),
    Case(
        "column named twice",
        shop(products=text("product_id,title,title", "p1,a,b")),
        fatal=r"title appear twice",
    ),
    Case(
        "quoted newlines and delimiters",
        shop(products=text("product_id,title,price", 'p1,"Mug,\nlarge",3', 'p2,"Cup ""XL""",2', "p3,Lamp,1")),
        accepted=BASE_OK,
        graph={title_of("p1"): "Mug,\nlarge", title_of("p2"): 'Cup "XL"'},
    ),
    Case(
        "a 5 MB field",
        _big_field(),
        accepted={"products": 2, "orders": 2, "order_items": 2},
        rejected={"products": [(3, "field_too_large")], "order_items": [(3, "unknown_product")]},
        graph={PRODUCT_COUNT: 2},
    ),
    Case(
        "conflicting duplicate rows",
        shop(products=text("product_id,title", "p1,Mug", "p2,Cup", "p1,Other mug", "p3,Lamp")),
        accepted=BASE_OK,
        rejected={"products": [(4, "duplicate_key")]},
        graph={title_of("p1"): "Mug", PRODUCT_COUNT: 3},
    ),
    Case(
        "unknown foreign ids",
        shop(order_items=text(*ITEMS, "o1,p404,1", "o404,p1,1")),
        accepted=BASE_OK,
        rejected={"order_items": [(5, "unknown_product"), (6, "unknown_order")]},
        graph={CONTAINS_COUNT: 3},
    ),
    Case(
        "negative and zero quantities",
        shop(order_items=text("order_id,product_id,quantity", "o1,p1,-2", "o1,p2,0", "o2,p3,1")),
        accepted={"products": 3, "orders": 2, "order_items": 1},
        rejected={"order_items": [(2, "nonpositive_quantity"), (3, "nonpositive_quantity")]},
    ),
    Case(
        "fractional, huge and infinite quantities",
        shop(order_items=text("order_id,product_id,quantity", "o1,p1,1.5", "o1,p2,1e30", "o2,p3,inf", "o2,p1,2.0")),
        accepted={"products": 3, "orders": 2, "order_items": 1},
        rejected={"order_items": [(2, "bad_number"), (3, "bad_number"), (4, "bad_number")]},
        graph={"MATCH ()-[r:CONTAINS]->() RETURN r.quantity AS v": 2},
    ),
    Case(
        "NaN, infinite, huge and negative prices",
        shop(
            products=text(
                "product_id,title,price",
                "p1,Mug,NaN",
                "p2,Cup,inf",
                "p3,Lamp,1e12",
                "p4,Pen,-1",
                'p5,Box,"1,234.50"',
                "p6,Bag,",
            ),
            order_items=None,
        ),
        accepted={"products": 1, "orders": 2},
        rejected={
            "products": [
                (2, "bad_number"),
                (3, "price_out_of_range"),
                (4, "price_out_of_range"),
                (5, "price_out_of_range"),
                (6, "bad_number"),
            ]
        },
        graph={"MATCH (p:Product {id: 'p6'}) RETURN p.price IS NULL AS v": True},
    ),
    Case(
        "six timestamp styles",
        shop(
            orders=text("order_id,user_id,timestamp", *(f"t{i},u1,{t}" for i, t in enumerate(TIMESTAMP_STYLES))),
            order_items=None,
        ),
        accepted={"products": 3, "orders": 6},
        graph={
            "MATCH (o:Order) RETURN count(DISTINCT o.timestamp) AS v": 2,  # five say 10:00 UTC, one is a date
            "MATCH (o:Order {id: 't4'}) RETURN toString(o.timestamp) AS v": "2011-01-31T10:00:00Z",
        },
    ),
    Case(
        "unparseable timestamp styles",
        shop(
            orders=text(
                "order_id,user_id,timestamp",
                "o1,u1,31/01/2011 10:00",
                'o2,u1,"Mon, 31 Jan 2011 10:00:00 +0000"',
                "o3,u1,yesterday",
                "o4,u1,2011-01-31T10:00:00Z",
            ),
            order_items=None,
        ),
        accepted={"products": 3, "orders": 1},
        rejected={"orders": [(2, "bad_timestamp"), (3, "bad_timestamp"), (4, "bad_timestamp")]},
    ),
    Case(
        "future and ancient dates",
        shop(orders=text("order_id,user_id,timestamp", "o1,u1,2199-01-01T00:00:00Z", "o2,u2,1970-01-02")),
        accepted={"products": 3, "orders": 0, "order_items": 0},
        rejected={
            "orders": [(2, "timestamp_out_of_range"), (3, "timestamp_out_of_range")],
            "order_items": [(2, "unknown_order"), (3, "unknown_order"), (4, "unknown_order")],
        },
        graph={ORDER_COUNT: 0},
    ),
    Case(
        "emoji in ids and titles",
        shop(products=text("product_id,title", "p1,Mug ☕", "🎁,Gift 🎁", "p3,Lamp"), order_items=None),
        accepted={"products": 3, "orders": 2},
        graph={title_of("🎁"): "Gift 🎁", title_of("p1"): "Mug ☕"},
    ),
    Case(
        "RTL overrides and control characters",
        shop(
            products=text("product_id,title", f"p1,{RTL}gum", f"p{RTL}2,Cup", "p\x073,Bell", "p4,Tab\there"),
            order_items=None,
        ),
        accepted={"products": 2, "orders": 2},
        rejected={"products": [(3, "bad_id"), (4, "bad_id")]},
        graph={title_of("p1"): f"{RTL}gum", title_of("p4"): "Tab\there"},
    ),
    Case(
        "Cypher-looking ids and titles",
        shop(
            products=text("product_id,title", f'"{CYPHER_ID}",{CYPHER_TITLE}', 'p2,"\'}) RETURN 1 //"', "p3,Lamp"),
            order_items=text("order_id,product_id,quantity", f'o1,"{CYPHER_ID}",1'),
        ),
        accepted={"products": 3, "orders": 2, "order_items": 1},
        graph={title_of(CYPHER_ID): CYPHER_TITLE, PRODUCT_COUNT: 3, ORDER_COUNT: 2},
    ),
    Case(
        "Cypher-looking column names",
        shop(
            products=text(
                'product_id,title,"x`}) DETACH DELETE n //","attr:`) MATCH (m) DELETE m //"',
                "p1,Mug,1,red",
                "p2,Cup,2,blue",
                "p3,Lamp,3,red",
            )
        ),
        accepted=BASE_OK,
        graph={
            "MATCH (p:Product {id: 'p2'}) RETURN p.x_detach_delete_n AS v": 2,
            "MATCH (a:Attribute) RETURN count(a) AS v": 2,
            PRODUCT_COUNT: 3,
        },
    ),
    Case(
        "a 3,000-item basket",
        _basket(3000),
        heavy=True,
        accepted={"products": 3000, "orders": 1, "order_items": 3000},
        graph={CONTAINS_COUNT: 3000, "MATCH ()-[r:PURCHASED]->() RETURN count(r) AS v": 3000},
    ),
    Case(
        "truncated last line (fewer fields, no newline)",
        shop(order_items=b"order_id,product_id,quantity\no1,p1,1\no1,p2,2\no2,p3"),
        accepted={"products": 3, "orders": 2, "order_items": 2},
        rejected={"order_items": [(4, "bad_field_count")]},
    ),
    Case(
        "truncated inside a quoted field",
        shop(products=b'product_id,title\np1,Mug\np2,Cup\np3,"Lamp, half a ti'),
        accepted={"products": 2, "orders": 2, "order_items": 2},
        rejected={"products": [(4, "unterminated_quote")], "order_items": [(4, "unknown_product")]},
    ),
    Case(
        "wrong field counts",
        shop(products=text("product_id,title,price", "p1,Mug,3,extra", "p2,Cup,2", "p3", "p3,Lamp,1")),
        accepted={"products": 2, "orders": 2, "order_items": 2},
        rejected={
            "products": [(2, "bad_field_count"), (4, "bad_field_count")],
            "order_items": [(2, "unknown_product")],
        },
        graph={title_of("p3"): "Lamp", PRODUCT_COUNT: 2},
    ),
    Case(
        "odd column names",
        shop(
            products=text(
                " Product_ID ,TITLE,Größe (cm),2nd Colour!,id,",
                "p1,Mug,10,red,x,",
                "p2,Cup,12,blue,y,",
                "p3,Lamp,30,,z,",
            )
        ),
        accepted=BASE_OK,
        graph={
            title_of("p1"): "Mug",
            "MATCH (p:Product {id: 'p3'}) RETURN p.gr_e_cm AS v": 30,
            "MATCH (p:Product {id: 'p1'}) RETURN p.c_2nd_colour AS v": "red",
            "MATCH (p:Product {id: 'p2'}) RETURN p.x_id AS v": "y",
        },
    ),
    Case(
        "2,000 attribute columns",
        _attribute_columns(2000),
        heavy=True,
        accepted={"products": 3},
        graph={
            "MATCH (a:Attribute) RETURN count(a) AS v": 6000,
            "MATCH ()-[r:HAS_ATTRIBUTE]->() RETURN count(r) AS v": 6000,
        },
    ),
    Case(
        "'007' and '7' are different ids",
        shop(
            products=text("product_id,title", "007,Agent", "7,Seven", "p3,Lamp"),
            order_items=text("order_id,product_id,quantity", "o1,007,1", "o1,7,1"),
        ),
        accepted={"products": 3, "orders": 2, "order_items": 2},
        graph={title_of("007"): "Agent", title_of("7"): "Seven", CONTAINS_COUNT: 2},
    ),
    Case(
        "blank lines in the middle",
        shop(products=text("product_id,title", "p1,Mug", "", "", "p2,Cup", "p3,x,y")),
        accepted={"products": 2, "orders": 2, "order_items": 2},
        rejected={"products": [(6, "bad_field_count")], "order_items": [(4, "unknown_product")]},
    ),
    Case(
        "whitespace around ids",
        shop(order_items=text("order_id,product_id,quantity", " o1 , p1 ,1", "o1,p2 ,2", "\to2,p3,1")),
        accepted=BASE_OK,
        graph={CONTAINS_COUNT: 3},
    ),
    Case(
        "empty required fields",
        shop(orders=text("order_id,user_id,timestamp", ",u1,2011-01-01", "o1,,2011-01-01", "o2,u2,")),
        accepted={"products": 3, "orders": 0, "order_items": 0},
        rejected={
            "orders": [(2, "missing_field"), (3, "missing_field"), (4, "missing_field")],
            "order_items": [(2, "unknown_order"), (3, "unknown_order"), (4, "unknown_order")],
        },
    ),
    Case(
        "interaction types and ratings",
        shop(
            order_items=None,
            interactions=text(
                "user_id,product_id,type,timestamp,rating",
                "u1,p1,VIEW,2011-01-01,",
                "u1,p1,click,2011-01-01,",
                "u1,p2,rating,,7",
                "u1,p2,rating,,",
                "u1,p3,rating,,4.5",
                "u1,p1,view,2011-01-01,",
            ),
        ),
        accepted={"products": 3, "orders": 2, "interactions": 2},
        rejected={
            "interactions": [
                (3, "bad_interaction_type"),
                (4, "rating_out_of_range"),
                (5, "missing_field"),
                (7, "duplicate_key"),
            ]
        },
        graph={"MATCH ()-[r:RATED]->() RETURN r.rating AS v": 4.5},
    ),
    Case(
        "bundles pointing nowhere",
        shop(
            order_items=None,
            bundles=text("bundle_id,title", "b1,Tea set"),
            bundle_items=text("bundle_id,product_id", "b1,p1", "b2,p1", "b1,p404"),
            user_bundles=text("user_id,bundle_id,timestamp", "u1,b1,", "u1,b9,"),
        ),
        accepted={"products": 3, "orders": 2, "bundles": 1, "bundle_items": 1, "user_bundles": 1},
        rejected={
            "bundle_items": [(3, "unknown_bundle"), (4, "unknown_product")],
            "user_bundles": [(3, "unknown_bundle")],
        },
    ),
    Case(
        "items of a quarantined order",
        shop(orders=text("order_id,user_id,timestamp", "o1,u1,not a time", "o2,u2,2011-02-01")),
        accepted={"products": 3, "orders": 1, "order_items": 1},
        rejected={"orders": [(2, "bad_timestamp")], "order_items": [(2, "unknown_order"), (3, "unknown_order")]},
        graph={"MATCH (u:User {id: 'u1'}) RETURN count(u) AS v": 0},
    ),
    Case(
        "a 200,000-character id",
        shop(products=text("product_id,title", "p1,Mug", "p" + "9" * 200_000 + ",Long", "p2,Cup", "p3,Lamp")),
        accepted=BASE_OK,
        rejected={"products": [(3, "field_too_large")]},
    ),
    Case(
        "decimal commas in a semicolon file",
        shop(products=text("product_id;title;price", "p1;Mug;3,50", "p2;Cup;2", "p3;Lamp;1.25")),
        accepted={"products": 2, "orders": 2, "order_items": 2},
        rejected={"products": [(2, "bad_number")], "order_items": [(2, "unknown_product")]},
    ),
    Case(
        "4,000 rows, every 7th damaged (generated)",
        _many_rows(4000),
        heavy=True,
        accepted={"products": 4000 - 2 * 571},
        rejected={
            "products": sorted(
                [(i + 2, "bad_number") for i in range(4000) if i % 7 == 3]
                + [(i + 2, "bad_field_count") for i in range(4000) if i % 7 == 5]
            )
        },
        graph={PRODUCT_COUNT: 4000 - 2 * 571},
    ),
]


# -- dataset readers (ingest/sources) -----------------------------------------------------------

RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def retail(*lines: str) -> Callable[[], Files]:
    def build() -> Files:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
            handle.write(text(RETAIL_HEADER, *lines))
        return {"online-retail/online_retail.csv.gz": buffer.getvalue()}

    return build


ML_GENRES = "unknown|0\nAction|1\nComedy|2\n"


def movielens(
    items: str, ratings: str, users: str = "1|24|M|technician|85711\n2|53|F|other|94043\n"
) -> Callable[[], Files]:
    def build() -> Files:
        return {
            "ml-100k/u.genre": ML_GENRES.encode(),
            "ml-100k/u.item": items.encode("latin-1"),
            "ml-100k/u.user": users.encode(),
            "ml-100k/u1.base": ratings.encode(),
            "ml-100k/u1.test": b"",
        }

    return build


ML_ITEMS = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|Heat (1995)|01-Jan-1995||http://y|0|1|0\n"


def youshu(size: str, user_item: str, bundle_item: str = "0\t0\n", user_bundle: str = "0\t0\n") -> Callable[[], Files]:
    def build() -> Files:
        return {
            "youshu/Youshu_data_size.txt": size.encode(),
            "youshu/user_item.txt": user_item.encode(),
            "youshu/bundle_item.txt": bundle_item.encode(),
            "youshu/user_bundle_train.txt": user_bundle.encode(),
            "youshu/user_bundle_tune.txt": b"",
            "youshu/user_bundle_test.txt": b"",
        }

    return build


def amazon(train: bytes, items: str = "org_id remap_id freebase_id\nA 0 m.1\nB 1 m.2\n") -> Callable[[], Files]:
    def build() -> Files:
        return {
            "amazon-book-kgat/item_list.txt": items.encode(),
            "amazon-book-kgat/user_list.txt": b"org_id remap_id\nU0 0\nU1 1\n",
            "amazon-book-kgat/train.txt": train,
            "amazon-book-kgat/test.txt": b"1 0\n",
        }

    return build


READERS: list[Case] = [
    Case(
        "online-retail: cancellations, no customer, bad numbers and dates",
        retail(
            "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
            "C536366,85123A,WHITE HEART,-1,2010-12-01 08:28:00,2.55,17850,United Kingdom",
            "536367,85123A,WHITE HEART,6,2010-12-01 08:34:00,2.55,,United Kingdom",
            "536368,71053,LANTERN,abc,2010-12-01 08:34:00,3.39,13047,United Kingdom",
            "536369,71053,LANTERN,2,not a date,3.39,13047,United Kingdom",
            "536370,22752,SET 7 BABUSHKA,2,2010-12-01 08:45:00,7.65,12583,France",
        ),
        source="online-retail",
        accepted={"products": 3, "users": 3, "orders": 2, "order_items": 2},
        # rows are sorted by invoice date, the unparseable one last (line 4 of each canonical table)
        rejected={"orders": [(4, "missing_field")], "order_items": [(4, "unknown_order")]},
        graph={ORDER_COUNT: 2},
    ),
    Case(
        "online-retail: file missing",
        lambda: {"online-retail/readme.txt": b"x"},
        fatal=r"could not be read",
        source="online-retail",
    ),
    Case(
        "online-retail: foreign columns",
        lambda: {"online-retail/online_retail.csv.gz": gzip.compress(b"a,b\n1,2\n", mtime=0)},
        fatal=r"dataset 'online-retail' .* could not be read",
        source="online-retail",
    ),
    Case(
        "movielens: rating out of range and a broken line",
        movielens(ML_ITEMS, "1\t1\t5\t881250949\n1\t2\t7\t881250949\n2\t1\n2\t2\t3\tlater\n"),
        source="movielens",
        accepted={"products": 2, "users": 2, "interactions": 2},
        rejected={"interactions": [(3, "rating_out_of_range"), (4, "missing_field")]},
    ),
    Case(
        "movielens: Latin-1 titles and a bad genre flag",
        movielens(
            "1|Café (1995)|01-Jan-1995||http://x|0|0|1\n2|Heat (1995)|bad date||http://y|0|x|0\n",
            "1\t1\t5\t881250949\n",
        ),
        source="movielens",
        accepted={"products": 2, "users": 2, "interactions": 1},
        graph={title_of("1"): "Café (1995)"},
    ),
    Case(
        "movielens: u.genre missing",
        lambda: {"ml-100k/u.item": ML_ITEMS.encode()},
        fatal=r"dataset 'movielens' .* could not be read",
        source="movielens",
    ),
    Case(
        "youshu: ids beyond the declared sizes and short lines",
        youshu("2 1 2\n", "0\t0\n1\t1\n0\t5\n1\n"),
        source="youshu",
        accepted={"products": 2, "users": 2, "interactions": 2, "bundles": 1, "bundle_items": 1, "user_bundles": 1},
        rejected={"interactions": [(4, "unknown_product"), (5, "missing_field")]},
    ),
    Case(
        "youshu: garbage size file",
        youshu("two one three\n", "0\t0\n"),
        fatal=r"dataset 'youshu' .* could not be read",
        source="youshu",
    ),
    Case(
        "amazon-book: user-only lines and unknown items",
        amazon(b"0 0 1\n1\n1 1 7\n"),
        source="amazon-book",
        accepted={"products": 2, "users": 2, "interactions": 4},
        rejected={"interactions": [(5, "unknown_product")]},
    ),
    Case(
        "amazon-book: non-ASCII bytes",
        amazon(b"0 0 \xe9\n"),
        fatal=r"dataset 'amazon-book' .* could not be read",
        source="amazon-book",
    ),
]

CASES: list[Case] = CANONICAL + READERS

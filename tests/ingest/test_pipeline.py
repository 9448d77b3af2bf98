"""The ingest pipeline against the real Neo4j: graph shape, quarantine, idempotence, increments."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kgrec.ingest.pipeline import ingest_source
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import IngestError

PRODUCTS = """product_id,title,description,category,brand,price,attr:colour,dattr:type,Weight (g)
p1,Red Mug,A mug,Home > Kitchen > Mugs,Acme,3.5,red,mug,100
p2,Blue Cup,,Home > Kitchen,Acme,2,blue|white,cup,200
p3,Lamp,,Home > Lighting,,,,lamp,
"""
USERS = """user_id,country,attr:gender
u1,UK,F
u2,FR,M
"""
ORDERS = """order_id,user_id,timestamp
o1,u1,2011-01-01T10:00:00
o2,u1,2011-02-01 10:00:00
o3,u2,2011-03-01T10:00:00Z
o4,u2,not-a-time
"""
ORDER_ITEMS = """order_id,product_id,quantity,price
o1,p1,2,3.5
o1,p2,1,2
o2,p1,1,3.5
o2,p2,3,2
o3,p1,1,3.5
o3,p2,1,2
o3,p9,1,2
o4,p1,1,1
o1,p3,0,1
"""
INTERACTIONS = """user_id,product_id,type,timestamp,rating,split
u1,p3,view,2011-01-01T00:00:00,,train
u1,p3,view,2011-01-02T00:00:00,,train
u2,p3,rating,2011-01-02T00:00:00,4,train
u2,p3,rating,2011-01-09T00:00:00,2,test
u2,p3,purchase,2011-01-05T00:00:00,,train
u3,p2,purchase,,,test
"""
BUNDLES = "bundle_id,title\nb1,Tea set\n"
BUNDLE_ITEMS = "bundle_id,product_id\nb1,p1\nb1,p2\nb2,p1\n"
USER_BUNDLES = "user_id,bundle_id,timestamp,split\nu1,b1,2011-04-01T00:00:00,train\nu1,b1,2011-04-02T00:00:00,test\n"


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


@pytest.fixture()
def shop(tmp_path: Path) -> Path:
    return write(
        tmp_path / "shop",
        products=PRODUCTS,
        users=USERS,
        orders=ORDERS,
        order_items=ORDER_ITEMS,
        interactions=INTERACTIONS,
        bundles=BUNDLES,
        bundle_items=BUNDLE_ITEMS,
        user_bundles=USER_BUNDLES,
    )


def snapshot(graph: GraphConnection) -> tuple[list[tuple], list[tuple]]:
    """Every node and relationship with its properties, sorted (to compare whole graphs)."""
    nodes = graph.read("MATCH (n) RETURN labels(n)[0] AS l, properties(n) AS p")
    rels = graph.read(
        "MATCH (a)-[r]->(b) RETURN type(r) AS t, elementId(a) AS a, elementId(b) AS b, "
        "coalesce(a.id, a.path, a.key, a.name) AS x, coalesce(b.id, b.path, b.key, b.name) AS y, "
        "properties(r) AS p"
    )
    return (
        sorted((n["l"], sorted(n["p"].items())) for n in nodes),
        sorted((r["t"], r["x"], r["y"], sorted((k, str(v)) for k, v in r["p"].items())) for r in rels),
    )


def test_report_counts_and_quarantine_files(graph: GraphConnection, shop: Path, tmp_path: Path) -> None:
    report = ingest_source(graph, shop, quarantine_dir=tmp_path / "q")
    assert report.adds_up()
    assert (report.file("orders").accepted, report.file("orders").quarantined) == (3, 1)
    assert report.file("order_items").reasons == {"nonpositive_quantity": 1, "unknown_order": 1, "unknown_product": 1}
    assert report.file("bundle_items").reasons == {"unknown_bundle": 1}
    assert report.read == report.accepted + report.quarantined == 30
    with open(tmp_path / "q" / "shop" / "order_items.quarantine.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["file"], r["line"], r["reason"]) for r in rows] == [
        ("order_items.csv", "8", "unknown_product"),
        ("order_items.csv", "9", "unknown_order"),
        ("order_items.csv", "10", "nonpositive_quantity"),
    ]
    assert '"product_id": "p9"' in rows[0]["raw"]


def test_graph_shape_follows_the_property_conventions(graph: GraphConnection, shop: Path) -> None:
    ingest_source(graph, shop)
    p1 = graph.read("MATCH (p:Product {id: 'p1'}) RETURN properties(p) AS p")[0]["p"]
    assert p1 == {"id": "p1", "title": "Red Mug", "description": "A mug", "price": 3.5, "weight_g": 100}
    assert graph.read("MATCH (p:Product {id: 'p3'}) RETURN p.price AS price")[0]["price"] is None
    leaf = graph.read(
        "MATCH (:Product {id: 'p1'})-[:IN_CATEGORY]->(c)-[:CHILD_OF]->(parent)-[:CHILD_OF]->(root) "
        "RETURN c.path AS path, c.name AS name, c.level AS level, root.path AS root"
    )[0]
    assert leaf == {"path": "Home > Kitchen > Mugs", "name": "Mugs", "level": 2, "root": "Home"}
    colours = graph.read(
        "MATCH (:Product {id: 'p2'})-[:HAS_ATTRIBUTE]->(a {name: 'colour'}) "
        "RETURN a.key AS key, a.derived AS derived ORDER BY key"
    )
    assert colours == [{"key": "colour=blue", "derived": False}, {"key": "colour=white", "derived": False}]
    assert graph.read("MATCH (a:Attribute {key: 'type=mug'}) RETURN a.derived AS d")[0]["d"] is True
    assert graph.count("MATCH (:Product)-[:MADE_BY]->(:Brand {name: 'Acme'}) RETURN count(*) AS n") == 2
    user = graph.read("MATCH (u:User {id: 'u1'})-[:HAS_ATTRIBUTE]->(a) RETURN u.country AS c, a.key AS k")
    assert user == [{"c": "UK", "k": "gender=f"}]


def test_purchased_is_derived_from_orders_and_purchase_events(graph: GraphConnection, shop: Path) -> None:
    ingest_source(graph, shop)
    rows = graph.read(
        "MATCH (u:User)-[x:PURCHASED]->(p:Product) RETURN u.id AS u, p.id AS p, x.count AS n, "
        "x.quantity AS q, toString(x.first) AS f, toString(x.last) AS l ORDER BY u, p"
    )
    assert rows == [
        {"u": "u1", "p": "p1", "n": 2, "q": 3, "f": "2011-01-01T10:00:00Z", "l": "2011-02-01T10:00:00Z"},
        {"u": "u1", "p": "p2", "n": 2, "q": 4, "f": "2011-01-01T10:00:00Z", "l": "2011-02-01T10:00:00Z"},
        {"u": "u2", "p": "p1", "n": 1, "q": 1, "f": "2011-03-01T10:00:00Z", "l": "2011-03-01T10:00:00Z"},
        {"u": "u2", "p": "p2", "n": 1, "q": 1, "f": "2011-03-01T10:00:00Z", "l": "2011-03-01T10:00:00Z"},
        {"u": "u2", "p": "p3", "n": 1, "q": 1, "f": "2011-01-05T00:00:00Z", "l": "2011-01-05T00:00:00Z"},
        {"u": "u3", "p": "p2", "n": 1, "q": 1, "f": None, "l": None},
    ]


def test_events_ratings_and_bundles(graph: GraphConnection, shop: Path) -> None:
    ingest_source(graph, shop)
    viewed = graph.read(
        "MATCH (:User {id: 'u1'})-[x:VIEWED]->(:Product {id: 'p3'}) "
        "RETURN x.count AS n, toString(x.last) AS last, x.split AS split"
    )
    assert viewed == [{"n": 2, "last": "2011-01-02T00:00:00Z", "split": "train"}]
    rated = graph.read(
        "MATCH (:User {id: 'u2'})-[x:RATED]->(:Product {id: 'p3'}) "
        "RETURN x.rating AS r, toString(x.ts) AS ts, x.split AS split"
    )
    assert rated == [{"r": 2.0, "ts": "2011-01-09T00:00:00Z", "split": "test"}]
    bundle = graph.read(
        "MATCH (b:Bundle {id: 'b1'})-[:INCLUDES]->(p) WITH b, collect(p.id) AS items "
        "MATCH (:User {id: 'u1'})-[x:INTERACTED_WITH]->(b) RETURN b.title AS title, "
        "b.source AS source, items, x.count AS n, toString(x.ts) AS ts, x.split AS split"
    )
    assert len(bundle) == 1 and sorted(bundle[0].pop("items")) == ["p1", "p2"]
    assert bundle[0] == {"title": "Tea set", "source": "given", "n": 2, "ts": "2011-04-02T00:00:00Z", "split": "test"}


def test_bought_with_is_written_in_both_directions(graph: GraphConnection, shop: Path) -> None:
    report = ingest_source(graph, shop)
    assert report.copurchase is not None and report.copurchase.pairs == 1
    rows = graph.read(
        "MATCH (a)-[x:BOUGHT_WITH]->(b) RETURN a.id AS a, b.id AS b, x.orders AS n, "
        "x.support AS s, x.confidence AS c, x.lift AS lift ORDER BY a"
    )
    assert rows == [
        {"a": "p1", "b": "p2", "n": 3, "s": 1.0, "c": 1.0, "lift": 1.0},
        {"a": "p2", "b": "p1", "n": 3, "s": 1.0, "c": 1.0, "lift": 1.0},
    ]
    assert ingest_source(graph, shop, copurchase=False).copurchase is None


def test_reingesting_the_same_input_changes_nothing(graph: GraphConnection, shop: Path) -> None:
    first = ingest_source(graph, shop)
    before = snapshot(graph)
    second = ingest_source(graph, shop)
    assert snapshot(graph) == before
    assert second.nodes_created == 0
    assert [f.accepted for f in second.files] == [f.accepted for f in first.files]


def test_a_second_folder_adds_to_the_graph(graph: GraphConnection, shop: Path, tmp_path: Path) -> None:
    ingest_source(graph, shop)
    more = write(
        tmp_path / "more",
        products="product_id,title,category\np4,Teapot,Home > Kitchen > Teapots\np1,Red Mug,Home > Kitchen\n",
        orders="order_id,user_id,timestamp\no5,u1,2011-05-01T00:00:00\n",
        order_items="order_id,product_id,quantity,gift\no5,p1,4,yes\no5,p4,1,\no1,p4,1,no\no1,p404,1,\n",
    )
    report = ingest_source(graph, more)
    assert report.file("order_items").reasons == {"unknown_product": 1}  # p404 is nowhere
    assert graph.count("MATCH (p:Product) RETURN count(p) AS n") == 4
    assert graph.read("MATCH (:Product {id: 'p1'})-[:IN_CATEGORY]->(c) RETURN c.path AS p") == [{"p": "Home > Kitchen"}]
    purchased = graph.read(
        "MATCH (:User {id: 'u1'})-[x:PURCHASED]->(p) RETURN p.id AS p, x.count AS n, x.quantity AS q ORDER BY p"
    )
    assert purchased == [{"p": "p1", "n": 3, "q": 7}, {"p": "p2", "n": 2, "q": 4}, {"p": "p4", "n": 2, "q": 2}]
    gifts = graph.read("MATCH (o:Order)-[c:CONTAINS]->(p:Product {id: 'p4'}) RETURN o.id AS o, c.gift AS g ORDER BY o")
    assert gifts == [{"o": "o1", "g": "no"}, {"o": "o5", "g": None}]
    pairs = graph.read("MATCH (a {id: 'p1'})-[x:BOUGHT_WITH]->(b) RETURN b.id AS b, x.orders AS n ORDER BY b")
    assert pairs == [{"b": "p2", "n": 3}, {"b": "p4", "n": 2}]


def test_fatal_errors_name_the_fix(graph: GraphConnection, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"no products\.csv"):
        ingest_source(graph, write(tmp_path / "empty", orders=ORDERS))
    with pytest.raises(IngestError, match="missing column"):
        ingest_source(graph, write(tmp_path / "bad", products="sku,title\np1,Mug\n"))
    with pytest.raises(IngestError, match="neither a folder nor one of"):
        ingest_source(graph, tmp_path / "nowhere")
    assert graph.count("MATCH (n) RETURN count(n) AS n") == 0

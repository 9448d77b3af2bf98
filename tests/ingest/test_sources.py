"""Readers of the real datasets (skipped when ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kgrec.ingest.canonical import CanonicalTables
from kgrec.ingest.pipeline import ingest_tables
from kgrec.ingest.sources.amazon_book import read_amazon_book
from kgrec.ingest.sources.movielens import read_movielens
from kgrec.ingest.sources.online_retail import clean_lines, colours, price_band, product_type, read_online_retail
from kgrec.ingest.validate import validate_tables
from kgrec.kg.connection import GraphConnection


def all_accepted(tables: CanonicalTables) -> None:
    for name, result in validate_tables(tables).items():
        assert result.quarantined == 0, (name, result.reasons)


def test_online_retail_drops_and_merges_with_counted_reasons(shared_data: Path) -> None:
    raw = pd.read_csv(
        shared_data / "online-retail" / "online_retail.csv.gz", dtype={"InvoiceNo": str, "StockCode": str}
    )
    lines, dropped = clean_lines(raw)
    assert dropped["no_customer_id"] == 135_080
    assert dropped["cancellation"] > 8_000 and dropped["non_product_code"] > 1_000
    assert len(raw) == len(lines) + sum(dropped.values())
    assert not lines["InvoiceNo"].str.startswith("C").any()
    assert not lines["StockCode"].isin(["POST", "D", "M", "DOT", "BANK CHARGES", "AMAZONFEE", "CRUK"]).any()
    assert (lines["Quantity"] > 0).all() and not lines.duplicated(["InvoiceNo", "StockCode"]).any()

    tables = read_online_retail(shared_data / "online-retail")
    assert tables.orders is not None and tables.order_items is not None and tables.users is not None
    assert 18_000 < len(tables.orders) < 19_000 and 4_300 < len(tables.users) < 4_400
    assert 3_600 < len(tables.products) < 3_800 and len(tables.order_items) == len(lines)
    mug = tables.products.set_index("product_id").loc["85123A"]
    assert mug["title"] == "WHITE HANGING HEART T-LIGHT HOLDER"
    assert (mug["dattr:type"], mug["dattr:colour"], mug["category"]) == ("holder", "white", "Online Retail > Holder")
    all_accepted(tables)


def test_online_retail_derived_attributes() -> None:
    titles = pd.Series(["RED RETROSPOT CAKE STAND", "SET OF 3 CAKE TINS PANTRY DESIGN", "WHITE/PINK BAG", None])
    assert product_type(titles).tolist() == ["stand", "pantry", "bag", ""]
    assert colours(titles).tolist() == ["red", "", "pink|white", ""]
    assert price_band(pd.Series([0.5, 1.0, 9.99, 25.0, float("nan")])).tolist() == [
        "under-1",
        "1-3",
        "3-10",
        "10-plus",
        "",
    ]


def test_movielens_keeps_the_u1_split_and_demographics(shared_data: Path) -> None:
    tables = read_movielens(shared_data / "ml-100k")
    assert tables.interactions is not None and tables.users is not None
    ratings = tables.interactions
    assert len(ratings) == 100_000 and set(ratings["type"]) == {"rating"}
    assert ratings["split"].value_counts().to_dict() == {"train": 80_000, "test": 20_000}
    toy = tables.products.set_index("product_id").loc["1"]
    assert toy["title"] == "Toy Story (1995)" and toy["release_year"] == "1995"
    assert toy["category"] == "Movies > Animation|Movies > Children's|Movies > Comedy"
    first = tables.users.set_index("user_id").loc["1"]
    assert (first["attr:age_band"], first["attr:gender"], first["attr:occupation"]) == ("18-24", "M", "technician")
    all_accepted(tables)


def test_youshu_keeps_the_official_bundle_split(shared_data: Path) -> None:
    from kgrec.ingest.sources.youshu import read_youshu

    tables = read_youshu(shared_data / "youshu")
    assert tables.user_bundles is not None and tables.bundle_items is not None and tables.interactions is not None
    assert tables.user_bundles["split"].value_counts().to_dict() == {"train": 34_416, "test": 9_746, "tune": 5_189}
    assert (len(tables.products), len(tables.bundle_items), len(tables.interactions)) == (32_770, 176_667, 138_515)
    assert set(tables.interactions["type"]) == {"purchase"} and (tables.products["title"] == "").all()
    all_accepted(tables)


def test_amazon_book_marks_train_and_test(shared_data: Path) -> None:
    tables = read_amazon_book(shared_data / "amazon-book-kgat")
    assert tables.interactions is not None
    assert tables.interactions["split"].value_counts().to_dict() == {"train": 652_514, "test": 193_920}
    assert len(tables.products) == 24_915 and (tables.products["title"] == "").all()
    assert tables.products.loc[0, "asin"] == "0553092626"


def test_a_movielens_slice_lands_in_the_graph(graph: GraphConnection, shared_data: Path) -> None:
    tables = read_movielens(shared_data / "ml-100k")
    assert tables.interactions is not None and tables.users is not None
    users = {"1", "2", "3"}
    tables.interactions = tables.interactions[tables.interactions["user_id"].isin(users)]
    tables.users = tables.users[tables.users["user_id"].isin(users)]
    report = ingest_tables(graph, tables, source="movielens-slice")
    assert report.adds_up() and report.quarantined == 0
    rated = graph.count("MATCH (:User)-[r:RATED]->(:Product) RETURN count(r) AS n")
    assert rated == len(tables.interactions)
    split = graph.read("MATCH (:User {id: '1'})-[r:RATED]->(:Product {id: '1'}) RETURN r.rating AS r, r.split AS s")
    assert split == [{"r": 5.0, "s": "train"}]
    genres = graph.read(
        "MATCH (:Product {id: '1'})-[:IN_CATEGORY]->(c)-[:CHILD_OF]->(root) "
        "RETURN c.name AS g, root.path AS root ORDER BY g"
    )
    assert genres == [
        {"g": "Animation", "root": "Movies"},
        {"g": "Children's", "root": "Movies"},
        {"g": "Comedy", "root": "Movies"},
    ]
    assert graph.count("MATCH (:User {id: '1'})-[:HAS_ATTRIBUTE]->(a:Attribute) RETURN count(a) AS n") == 3


def test_a_youshu_slice_lands_in_the_graph(graph: GraphConnection, shared_data: Path) -> None:
    from kgrec.ingest.sources.youshu import read_youshu

    tables = read_youshu(shared_data / "youshu")
    assert tables.user_bundles is not None and tables.interactions is not None and tables.bundle_items is not None
    tables.user_bundles = tables.user_bundles[tables.user_bundles["user_id"].isin({"0", "1"})]
    bundles = set(tables.user_bundles["bundle_id"])
    tables.bundle_items = tables.bundle_items[tables.bundle_items["bundle_id"].isin(bundles)]
    tables.interactions = tables.interactions[tables.interactions["user_id"].isin({"0", "1"})]
    assert tables.bundles is not None
    tables.bundles = tables.bundles[tables.bundles["bundle_id"].isin(bundles)]
    tables.users = None
    report = ingest_tables(graph, tables, source="youshu-slice")
    assert report.adds_up() and report.quarantined == 0
    splits = graph.read(
        "MATCH (:User {id: '0'})-[r:INTERACTED_WITH]->(b:Bundle) RETURN r.split AS s, count(*) AS n ORDER BY s"
    )
    expected = tables.user_bundles[tables.user_bundles["user_id"] == "0"]["split"].value_counts()
    assert {r["s"]: r["n"] for r in splits} == expected.to_dict()
    purchased = graph.count("MATCH (:User)-[r:PURCHASED]->() WHERE r.count = 1 RETURN count(r) AS n")
    assert purchased == len(tables.interactions)

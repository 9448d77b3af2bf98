"""Validation of canonical rows: every quarantine reason, counts that add up, fatal input errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from kgrec.ingest.canonical import CanonicalTables, read_folder, sanitize_property, write_folder
from kgrec.ingest.validate import (
    BAD_NUMBER,
    BAD_TIMESTAMP,
    BAD_TYPE,
    DUPLICATE_KEY,
    MISSING_FIELD,
    NONPOSITIVE_QUANTITY,
    PRICE_OUT_OF_RANGE,
    RATING_OUT_OF_RANGE,
    TIMESTAMP_OUT_OF_RANGE,
    UNKNOWN_BUNDLE,
    UNKNOWN_ORDER,
    UNKNOWN_PRODUCT,
    validate_tables,
)
from kgrec.kg.errors import IngestError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def frame(text: str) -> pd.DataFrame:
    rows = [line.split(",") for line in text.strip().splitlines()]
    return pd.DataFrame(rows[1:], columns=rows[0])


def bad_tables() -> CanonicalTables:
    """One bad row per reason, each on a known line; the rest is clean."""
    return CanonicalTables(
        products=frame("""
product_id,title,price,category
p1,Mug,3.5,Home>  Kitchen
p2,Cup,abc,
p3,Gold,2000000,
p1,Mug again,1,
,No id,1,
p4,Free,0,"""),
        orders=frame("""
order_id,user_id,timestamp
o1,u1,2011-01-01T10:00:00
o2,u1,yesterday
o3,u2,1980-01-01T00:00:00
o4,u2,2030-01-01T00:00:00
o5,u2,2011-05-05"""),
        order_items=frame("""
order_id,product_id,quantity,price
o1,p1,2,3.5
o1,p4,1,
o1,p2,1,1
o2,p1,1,1
o1,p1,1,1
o5,p1,0,1
o5,p4,2.5,1
o5,p4,x,1
o5,p4,1,-3"""),
        interactions=frame("""
user_id,product_id,type,timestamp,rating
u1,p1,view,2011-01-01T00:00:00,
u1,p1,like,2011-01-01T00:00:00,
u1,p1,rating,2011-01-01T00:00:00,7
u1,p1,rating,2011-01-01T00:00:00,
u1,p1,view,2011-01-01T00:00:00,"""),
        bundles=frame("""
bundle_id,title
b1,Starter"""),
        bundle_items=frame("""
bundle_id,product_id
b1,p1
b9,p1"""),
    )


def test_each_reason_is_reported_with_its_line() -> None:
    results = validate_tables(bad_tables(), now=NOW)
    got = {name: sorted(zip(r.rejected["line"], r.rejected["reason"], strict=True)) for name, r in results.items()}
    assert got["products"] == [(3, BAD_NUMBER), (4, PRICE_OUT_OF_RANGE), (5, DUPLICATE_KEY), (6, MISSING_FIELD)]
    assert got["orders"] == [(3, BAD_TIMESTAMP), (4, TIMESTAMP_OUT_OF_RANGE), (5, TIMESTAMP_OUT_OF_RANGE)]
    assert got["order_items"] == [
        (4, UNKNOWN_PRODUCT),
        (5, UNKNOWN_ORDER),
        (6, DUPLICATE_KEY),
        (7, NONPOSITIVE_QUANTITY),
        (8, BAD_NUMBER),
        (9, BAD_NUMBER),
        (10, PRICE_OUT_OF_RANGE),
    ]
    assert got["interactions"] == [(3, BAD_TYPE), (4, RATING_OUT_OF_RANGE), (5, MISSING_FIELD), (6, DUPLICATE_KEY)]
    assert got["bundle_items"] == [(3, UNKNOWN_BUNDLE)]


def test_counts_add_up_and_accepted_rows_are_typed() -> None:
    results = validate_tables(bad_tables(), now=NOW)
    for result in results.values():
        assert result.read == result.accepted_rows + result.quarantined
        assert sum(result.reasons.values()) == result.quarantined
    products = results["products"].accepted
    assert list(products["product_id"]) == ["p1", "p4"]
    assert products.loc[0, "category"] == "Home > Kitchen"
    assert products["price"].tolist() == [3.5, 0.0]
    items = results["order_items"].accepted
    assert items["quantity"].tolist() == [2, 1] and items["quantity"].dtype == "int64"
    assert results["orders"].accepted["timestamp"].tolist() == ["2011-01-01T10:00:00Z", "2011-05-05T00:00:00Z"]


def test_quarantined_row_keeps_the_raw_values_and_a_detail() -> None:
    rejected = validate_tables(bad_tables(), now=NOW)["order_items"].rejected
    row = rejected[rejected["reason"] == UNKNOWN_PRODUCT].iloc[0]
    assert json.loads(row["raw"]) == {"order_id": "o1", "product_id": "p2", "quantity": "1", "price": "1"}
    assert "p2" in row["detail"] and row["file"] == "order_items.csv"


def test_references_resolve_against_the_graph_lookup() -> None:
    tables = CanonicalTables(
        products=frame("product_id\np1"),
        orders=frame("order_id,user_id,timestamp"),
        order_items=frame("order_id,product_id,quantity\nold,p1,1\nold,gone,1"),
    )
    tables.orders = pd.DataFrame(columns=["order_id", "user_id", "timestamp"])

    def lookup(kind: str, ids: list[str]) -> set[str]:
        return {"old"} if kind == "order" else set()

    result = validate_tables(tables, lookup, now=NOW)["order_items"]
    assert result.accepted["product_id"].tolist() == ["p1"]
    assert result.reasons == {UNKNOWN_PRODUCT: 1}


def test_merge_duplicates_sums_quantities_where_the_source_says_so() -> None:
    tables = CanonicalTables(
        products=frame("product_id\np1"),
        orders=frame("order_id,user_id,timestamp\no1,u1,2011-01-01"),
        order_items=frame("order_id,product_id,quantity\no1,p1,2\no1,p1,3\no1,p1,0"),
        merge_duplicates=frozenset({"order_items"}),
    )
    result = validate_tables(tables, now=NOW)["order_items"]
    assert result.accepted["quantity"].tolist() == [5]
    assert (result.read, result.accepted_rows, result.merged, result.quarantined) == (3, 2, 1, 1)


def test_missing_products_file_is_fatal(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("order_id,user_id,timestamp\n")
    with pytest.raises(IngestError, match=r"no products\.csv"):
        read_folder(tmp_path)


def test_missing_header_column_is_fatal_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "products.csv").write_text("product_id,title\np1,Mug\n")
    (tmp_path / "order_items.csv").write_text("order,product_id,quantity\no1,p1,1\n")
    with pytest.raises(IngestError, match=r"order_items.csv: missing column\(s\) order_id"):
        read_folder(tmp_path)


def test_in_memory_table_with_wrong_header_is_fatal() -> None:
    with pytest.raises(IngestError, match="missing column"):
        validate_tables(CanonicalTables(products=frame("id,title\np1,Mug")))


def test_folder_round_trip_keeps_rows_and_line_numbers(tmp_path: Path) -> None:
    tables = bad_tables()
    write_folder(tables, tmp_path)
    again = read_folder(tmp_path)
    before = validate_tables(tables, now=NOW)
    after = validate_tables(again, now=NOW)
    for name in before:
        pd.testing.assert_frame_equal(before[name].rejected, after[name].rejected)
        assert before[name].accepted_rows == after[name].accepted_rows


def test_property_names_are_sanitised() -> None:
    assert sanitize_property("Release Year") == "release_year"
    assert sanitize_property("2nd colour!") == "c_2nd_colour"
    assert sanitize_property("ID") == "x_id"


def test_malformed_records_are_quarantined_with_their_physical_line(tmp_path: Path) -> None:
    (tmp_path / "products.csv").write_text(
        '\ufeffproduct_id,title,price\np1,"Mug,\nlarge",3\np2,Cup,1,extra\n\np3,Lamp,2\np4\n', encoding="utf-8"
    )
    tables = read_folder(tmp_path)
    result = validate_tables(tables, now=NOW)["products"]
    assert result.accepted["product_id"].tolist() == ["p1", "p3"]
    assert result.accepted["title"].tolist() == ["Mug,\nlarge", "Lamp"]
    assert tables.products["_line"].tolist() == [2, 6]
    assert list(zip(result.rejected["line"], result.rejected["reason"], strict=True)) == [
        (4, "bad_field_count"),
        (7, "bad_field_count"),
    ]
    assert result.read == 4 == result.accepted_rows + result.quarantined
    assert json.loads(result.rejected.loc[0, "raw"]) == ["p2", "Cup", "1", "extra"]

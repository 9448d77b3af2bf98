"""The one-order shop derived from Online Retail: deterministic, exactly one order per customer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kgrec.ingest.canonical import read_folder
from kgrec.ingest.sessions_sample import build_sessions_sample, one_order_lines


def _lines() -> pd.DataFrame:
    rows = [(c, f"{c}{k}", f"S{(c + k) % 5}") for c in range(1, 7) for k in range(c % 3 + 1) for _ in range(2)]
    return pd.DataFrame(
        [{"CustomerID": float(c), "InvoiceNo": inv, "StockCode": s} for c, inv, s in rows]
    ).drop_duplicates()


def test_one_order_per_customer_seeded() -> None:
    lines = _lines()
    a, b = one_order_lines(lines, seed=1), one_order_lines(lines, seed=1)
    assert a.equals(b)
    per_customer = a.drop_duplicates("InvoiceNo").groupby("CustomerID").size()
    assert len(per_customer) == 6 and (per_customer == 1).all()
    picks = {tuple(sorted(one_order_lines(lines, seed=s)["InvoiceNo"].unique())) for s in range(8)}
    assert len(picks) > 1  # the seed decides which order is kept
    assert one_order_lines(lines, customers=3, seed=1)["CustomerID"].nunique() == 3


def test_build_from_online_retail_is_byte_identical(shared_data: Path, tmp_path: Path) -> None:
    one = build_sessions_sample(shared_data, tmp_path / "a", customers=200, seed=5)
    two = build_sessions_sample(shared_data, tmp_path / "b", customers=200, seed=5)
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()
    assert one.customers == one.orders == 200 == two.orders
    tables = read_folder(tmp_path / "a")
    assert tables.orders is not None and tables.orders["user_id"].value_counts().max() == 1
    assert (tables.products["title"] != "").all() and tables.products["category"].str.contains(">").any()
    assert "CC BY 4.0" in (tmp_path / "a" / "ATTRIBUTION.md").read_text()

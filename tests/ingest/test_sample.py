"""The committed demo sample: rebuilt byte-identically from the shared data, clean, small."""

from __future__ import annotations

import filecmp
from pathlib import Path

from kgrec.ingest.canonical import read_folder
from kgrec.ingest.pipeline import SAMPLE_DIR
from kgrec.ingest.sample import build_sample
from kgrec.ingest.validate import validate_tables


def test_sample_rebuilds_byte_identically(shared_data: Path, tmp_path: Path) -> None:
    summary = build_sample(shared_data, tmp_path / "sample")
    committed = sorted(p.name for p in SAMPLE_DIR.iterdir())
    assert sorted(p.name for p in summary.files) == committed
    _match, mismatch, errors = filecmp.cmpfiles(SAMPLE_DIR, tmp_path / "sample", committed, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert summary.customers == 300


def test_sample_is_small_clean_and_every_customer_has_three_orders() -> None:
    assert sum(p.stat().st_size for p in SAMPLE_DIR.iterdir()) < 2_000_000
    assert "CC BY 4.0" in (SAMPLE_DIR / "ATTRIBUTION.md").read_text()
    assert "kgrec sample build" in (SAMPLE_DIR / "ATTRIBUTION.md").read_text()
    tables = read_folder(SAMPLE_DIR)
    results = validate_tables(tables)
    assert all(r.quarantined == 0 for r in results.values())
    orders = results["orders"].accepted
    assert orders.groupby("user_id").size().min() >= 3
    assert orders["user_id"].nunique() == 300

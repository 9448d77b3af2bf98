"""The named datasets ``kgrec ingest`` knows and where it reads them from (no pandas, no driver).

Kept apart from :mod:`kgrec.ingest.pipeline` so that the command line can show these as its
defaults without loading the ingest stack at start-up.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"
NAMED_SOURCES = ("sample", "online-retail", "movielens", "youshu", "amazon-book")
#: The folder under ``data_dir`` each named dataset is read from.
DATASET_FOLDERS = {
    "online-retail": "online-retail",
    "movielens": "ml-100k",
    "youshu": "youshu",
    "amazon-book": "amazon-book-kgat",
}

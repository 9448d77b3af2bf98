"""Youshu bundle data (BGCN / CrossCBR release) → canonical tables.

Items, users and bundles have the released 0-based ids (as text) and no text; ``user_item``
pairs become ``purchase`` interactions without a time. ``user_bundle_{train,tune,test}`` become
``user_bundles`` rows whose ``split`` column keeps the official partition.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kgrec.ingest.canonical import CanonicalTables, as_text

SPLITS = ("train", "tune", "test")


def _pairs(path: Path, names: list[str]) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, names=names, dtype=str)


def read_youshu(folder: Path) -> CanonicalTables:
    """Read the youshu folder (``Youshu_data_size.txt`` gives the user, bundle and item counts)."""
    folder = Path(folder)
    n_users, n_bundles, n_items = (int(x) for x in (folder / "Youshu_data_size.txt").read_text().split()[:3])
    ids = lambda n: [str(i) for i in range(n)]  # noqa: E731
    products = pd.DataFrame({"product_id": ids(n_items), "title": ""})
    users = pd.DataFrame({"user_id": ids(n_users)})
    user_item = _pairs(folder / "user_item.txt", ["user_id", "product_id"])
    interactions = user_item.assign(type="purchase", timestamp="")
    bundles = pd.DataFrame({"bundle_id": ids(n_bundles), "title": ""})
    bundle_items = _pairs(folder / "bundle_item.txt", ["bundle_id", "product_id"])
    user_bundles = pd.concat(
        [_pairs(folder / f"user_bundle_{s}.txt", ["user_id", "bundle_id"]).assign(split=s) for s in SPLITS],
        ignore_index=True,
    )
    user_bundles.insert(2, "timestamp", "")
    return CanonicalTables(
        products=as_text(products),
        users=as_text(users),
        interactions=as_text(interactions),
        bundles=as_text(bundles),
        bundle_items=as_text(bundle_items),
        user_bundles=as_text(user_bundles),
    )

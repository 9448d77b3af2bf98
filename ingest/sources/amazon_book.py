"""Amazon-Book as split by KGAT / KGIN → canonical tables.

``train.txt`` / ``test.txt`` (``user item item ...``) become ``purchase`` interactions without a
time and with a ``split`` column (train | test). Products are the remapped items of
``item_list.txt`` with empty titles (the release has no text), their ASIN and Freebase id as
properties; users carry their original id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.ingest.canonical import CanonicalTables, as_text


def read_adjacency(path: Path, dropped: dict[str, int] | None = None) -> pd.DataFrame:
    """``user item item ...`` lines → (user_id, product_id) rows, in file order.

    Lines with a user but no item are skipped and counted in ``dropped["user_without_items"]``.
    """
    users: list[str] = []
    counts: list[int] = []
    items: list[str] = []
    with open(path, encoding="ascii") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 2:
                if parts and dropped is not None:
                    dropped["user_without_items"] = dropped.get("user_without_items", 0) + 1
                continue
            users.append(parts[0])
            counts.append(len(parts) - 1)
            items.extend(parts[1:])
    return pd.DataFrame({"user_id": np.repeat(np.array(users, dtype=object), counts), "product_id": items})


def read_amazon_book(folder: Path) -> CanonicalTables:
    """Read the amazon-book-kgat folder into canonical tables."""
    folder = Path(folder)
    item_list = pd.read_csv(folder / "item_list.txt", sep=" ", dtype=str)
    products = pd.DataFrame(
        {
            "product_id": item_list["remap_id"],
            "title": "",
            "asin": item_list["org_id"],
            "freebase_id": item_list["freebase_id"],
        }
    )
    user_list = pd.read_csv(folder / "user_list.txt", sep=" ", dtype=str)
    users = pd.DataFrame({"user_id": user_list["remap_id"], "original_id": user_list["org_id"]})
    dropped: dict[str, int] = {}
    interactions = pd.concat(
        [read_adjacency(folder / f"{split}.txt", dropped).assign(split=split) for split in ("train", "test")],
        ignore_index=True,
    )
    interactions = interactions.assign(type="purchase", timestamp="")[
        ["user_id", "product_id", "type", "timestamp", "split"]
    ]
    return CanonicalTables(
        products=as_text(products), users=as_text(users), interactions=as_text(interactions), dropped=dropped
    )

"""A one-order-per-customer shop derived from UCI Online Retail, as a canonical folder.

Many shops only see each customer once (guest checkouts, sessions). ``build_sessions_sample`` keeps
exactly ONE order of each customer — a seeded draw among that customer's invoices (sorted ids) —
for ``customers`` customers (a seeded draw from the sorted customer ids; ``None`` = all of them),
and writes the canonical files plus ATTRIBUTION.md. Products keep their titles and the derived
category and attributes. The same inputs always give byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.ingest.canonical import CanonicalTables, write_folder
from kgrec.ingest.sample import CITATION
from kgrec.ingest.sources.online_retail import clean_lines, read_raw, to_canonical

DEFAULT_SEED = 2024

ATTRIBUTION = (
    "# One-order shop: attribution\n\n"
    + CITATION
    + """
## How it was derived

kgrec's own code (`ingest/sessions_sample.py`, `ingest/sources/online_retail.py`) read
`online_retail.csv.gz`, dropped lines without a CustomerID, cancellations, non-product codes,
non-positive quantities and negative prices, merged repeated lines of one invoice and stock code,
then kept {customers} customers ({which}) with exactly ONE of each customer's orders (a draw
with seed {seed} among the customer's sorted invoice numbers). Product titles are the original
descriptions; the `dattr:` columns and the category are derived by kgrec from them. Changes:
subset, cleaning and derived columns as described; no other edits.
"""
)


@dataclass(frozen=True)
class SessionsSummary:
    """What ``build_sessions_sample`` wrote."""

    folder: Path
    customers: int
    orders: int
    order_lines: int
    products: int


def one_order_lines(lines: pd.DataFrame, customers: int | None = None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The cleaned lines of one seeded order per customer (of ``customers`` seeded customers, or all)."""
    invoices = lines.drop_duplicates("InvoiceNo")[["CustomerID", "InvoiceNo"]]
    invoices = invoices.sort_values(["CustomerID", "InvoiceNo"], kind="stable")
    rng = np.random.default_rng(seed)
    ids = invoices["CustomerID"].unique()  # sorted
    if customers is not None and customers < len(ids):
        ids = np.sort(rng.choice(ids, size=customers, replace=False))
        invoices = invoices[invoices["CustomerID"].isin(ids)]
    sizes = invoices.groupby("CustomerID", sort=True).size().to_numpy()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    picked = starts + (rng.random(len(sizes)) * sizes).astype(np.int64)
    keep = set(invoices["InvoiceNo"].to_numpy()[picked])
    return lines[lines["InvoiceNo"].isin(keep)]


def sessions_tables(data_dir: Path, customers: int | None = None, seed: int = DEFAULT_SEED) -> CanonicalTables:
    """Canonical tables of the one-order shop derived from ``data_dir/online-retail``."""
    lines, _ = clean_lines(read_raw(Path(data_dir) / "online-retail"))
    return to_canonical(one_order_lines(lines, customers, seed), dropped={})


def build_sessions_sample(
    data_dir: Path, out: Path, customers: int | None = None, seed: int = DEFAULT_SEED
) -> SessionsSummary:
    """Write the one-order shop derived from ``data_dir/online-retail`` into ``out``."""
    tables = sessions_tables(data_dir, customers, seed)
    out = Path(out)
    write_folder(tables, out)
    assert tables.orders is not None and tables.order_items is not None and tables.users is not None
    which = "all customers" if customers is None else f"a draw with seed {seed} from the sorted customer ids"
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION.format(customers=len(tables.users), which=which, seed=seed))
    return SessionsSummary(out, len(tables.users), len(tables.orders), len(tables.order_items), len(tables.products))

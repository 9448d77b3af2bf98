"""UCI Online Retail (541,909 invoice lines) → canonical tables.

Lines that are not a customer's purchase of a product are dropped and counted per reason, in
this order: no CustomerID, a quantity, price or CustomerID that is not a number, cancellation invoice (``C...``), other non-sale invoice (``A...``),
non-product stock code (postage, fees, manual lines, vouchers), quantity ≤ 0, price < 0.
Repeated lines of the same invoice and stock code are merged (quantities summed, counted).
Products get the most frequent description as title, the most frequent unit price as price and
derived attributes (product-type word, colour words, price band) plus a derived category.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.ingest.canonical import CanonicalTables, as_text

FILENAME = "online_retail.csv.gz"
NON_PRODUCT_CODES = frozenset({"POST", "D", "M", "DOT", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B", "S", "C2"})
NON_PRODUCT_PATTERN = r"^(?:GIFT_\d+_\d+)$"
COLOURS = (
    "red",
    "blue",
    "green",
    "pink",
    "white",
    "black",
    "ivory",
    "cream",
    "yellow",
    "purple",
    "orange",
    "gold",
    "silver",
    "brown",
    "grey",
    "turquoise",
    "lilac",
    "blossom",
    "rose",
)
#: Trailing words that describe a style or size rather than the kind of product.
NOT_A_TYPE = frozenset(
    {
        "design",
        "designs",
        "assorted",
        "colours",
        "colour",
        "set",
        "sets",
        "pack",
        "large",
        "small",
        "mini",
        "jumbo",
        "vintage",
        "retrospot",
        "of",
        "and",
        "the",
        "with",
        "in",
        "box",
        "asst",
        "new",
        "giant",
        "medium",
        "tiny",
        *COLOURS,
    }
)
PRICE_BANDS = ((1.0, "under-1"), (3.0, "1-3"), (10.0, "3-10"), (float("inf"), "10-plus"))
CATEGORY_ROOT = "Online Retail"


def read_raw(folder: Path) -> pd.DataFrame:
    """The raw invoice lines as published (ids as text)."""
    return pd.read_csv(
        Path(folder) / FILENAME, dtype={"InvoiceNo": str, "StockCode": str, "Description": str, "Country": str}
    )


def clean_lines(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Purchase lines only (merged per invoice + stock code) and the count of dropped lines per reason."""
    lines = raw.copy()
    lines["StockCode"] = lines["StockCode"].astype(str).str.strip().str.upper()
    invoice = lines["InvoiceNo"].astype(str).str.strip()
    numbers = {c: pd.to_numeric(lines[c], errors="coerce") for c in ("Quantity", "UnitPrice", "CustomerID")}
    bad_number = numbers["Quantity"].isna() | numbers["UnitPrice"].isna()
    bad_number |= lines["CustomerID"].notna() & numbers["CustomerID"].isna()
    lines = lines.assign(**numbers)
    checks = [
        ("no_customer_id", lines["CustomerID"].isna() & ~bad_number),
        ("bad_number", bad_number),
        ("cancellation", invoice.str.startswith("C")),
        ("not_a_sale_invoice", ~invoice.str.match(r"^\d+$")),
        (
            "non_product_code",
            lines["StockCode"].isin(NON_PRODUCT_CODES) | lines["StockCode"].str.match(NON_PRODUCT_PATTERN),
        ),
        ("nonpositive_quantity", lines["Quantity"] <= 0),
        ("negative_price", lines["UnitPrice"] < 0),
    ]
    dropped: dict[str, int] = {}
    keep = pd.Series(True, index=lines.index)
    for reason, mask in checks:
        hit = mask.fillna(False) & keep
        dropped[reason] = int(hit.sum())
        keep &= ~hit
    lines = lines[keep]
    merged = lines.groupby(["InvoiceNo", "StockCode"], sort=False, as_index=False).agg(
        Description=("Description", "first"),
        Quantity=("Quantity", "sum"),
        InvoiceDate=("InvoiceDate", "first"),
        UnitPrice=("UnitPrice", "first"),
        CustomerID=("CustomerID", "first"),
        Country=("Country", "first"),
    )
    dropped["merged_duplicate_line"] = len(lines) - len(merged)
    return merged, dropped


def product_type(descriptions: pd.Series) -> pd.Series:
    """The last word of each description that names a kind of product (``'holder'``, ``'lantern'``)."""

    def pick(text: str) -> str:
        words = re.findall(r"[a-z]{3,}", text.lower())
        for word in reversed(words):
            if word not in NOT_A_TYPE:
                return word
        return ""

    return descriptions.fillna("").map(pick)


def colours(descriptions: pd.Series) -> pd.Series:
    """Colour words of each description, ``|``-separated (``'red|white'``)."""
    pattern = re.compile(r"\b(" + "|".join(COLOURS) + r")\b")
    return descriptions.fillna("").str.lower().map(lambda t: "|".join(sorted(set(pattern.findall(t)))))


def price_band(prices: pd.Series) -> pd.Series:
    """A fixed GBP band per price, the same whatever subset of the data is read."""
    bounds = [b for b, _ in PRICE_BANDS]
    index = np.searchsorted(bounds, prices.to_numpy(dtype=float), side="right")
    names = np.array([n for _, n in PRICE_BANDS] + [""], dtype=object)
    return pd.Series(names[np.minimum(index, len(PRICE_BANDS))], index=prices.index).where(prices.notna(), "")


def _mode(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """Most frequent ``value`` per ``key`` (ties: the smallest value), NaN values ignored."""
    counts = frame.dropna(subset=[value]).groupby([key, value], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n"], ascending=[True, False], kind="stable")
    return counts.drop_duplicates(key).set_index(key)[value]


def to_canonical(lines: pd.DataFrame, dropped: dict[str, int]) -> CanonicalTables:
    """Canonical tables from cleaned lines (as from ``clean_lines``)."""
    lines = lines.assign(
        user_id=lines["CustomerID"].astype("int64").astype(str), Description=lines["Description"].str.strip()
    )
    title = _mode(lines, "StockCode", "Description")
    price = _mode(lines, "StockCode", "UnitPrice")
    codes = pd.Index(sorted(lines["StockCode"].unique()), name="StockCode")
    title, price = title.reindex(codes).fillna(""), price.reindex(codes)
    kind = product_type(title)
    products = pd.DataFrame(
        {
            "product_id": codes,
            "title": title.to_numpy(),
            "description": "",
            "category": np.where(kind != "", CATEGORY_ROOT + " > " + kind.str.title(), CATEGORY_ROOT),
            "category_derived": "true",
            "brand": "",
            "price": price.to_numpy(),
            "dattr:type": kind.to_numpy(),
            "dattr:colour": colours(title).to_numpy(),
            "dattr:price_band": price_band(price).to_numpy(),
        }
    )
    country = _mode(lines, "user_id", "Country")
    users = pd.DataFrame({"user_id": sorted(lines["user_id"].unique())})
    users["attr:country"] = users["user_id"].map(country).fillna("")
    orders = lines.drop_duplicates("InvoiceNo")[["InvoiceNo", "user_id", "InvoiceDate"]]
    orders = orders.sort_values(["InvoiceDate", "InvoiceNo"], kind="stable")
    orders = pd.DataFrame(
        {
            "order_id": orders["InvoiceNo"],
            "user_id": orders["user_id"],
            # an unparseable date stays empty, so validation quarantines the order (missing_field)
            "timestamp": pd.to_datetime(orders["InvoiceDate"], errors="coerce").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    items = lines.sort_values(["InvoiceDate", "InvoiceNo", "StockCode"], kind="stable")
    order_items = pd.DataFrame(
        {
            "order_id": items["InvoiceNo"],
            "product_id": items["StockCode"],
            "quantity": items["Quantity"].astype("int64"),
            "price": items["UnitPrice"],
        }
    )
    return CanonicalTables(
        products=as_text(products),
        users=as_text(users),
        orders=as_text(orders.reset_index(drop=True)),
        order_items=as_text(order_items.reset_index(drop=True)),
        dropped=dropped,
    )


def read_online_retail(folder: Path) -> CanonicalTables:
    """Read ``online_retail.csv.gz`` from ``folder`` into canonical tables (fast, vectorised)."""
    lines, dropped = clean_lines(read_raw(folder))
    return to_canonical(lines, dropped)

"""Row validation: every canonical row is either accepted (typed, normalised) or quarantined.

Checks run vectorised over a whole file; the first failing check names the row's reason. Files are
checked in ``FILE_ORDER`` so references (an order item's order and product, a bundle item's bundle)
can be resolved against rows accepted earlier in the same input or, through ``lookup``, against
what the graph already holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from kgrec.ingest.canonical import (
    BAD_ID_CHARS,
    CATEGORY_SEPARATOR,
    INTERACTION_TYPES,
    LINE,
    MULTI_VALUE_SEPARATOR,
    SPECS,
    CanonicalTables,
    FileSpec,
    RawReject,
    as_text,
    check_header,
    with_lines,
)

# Quarantine reasons (documented in docs/ingest.md).
MISSING_FIELD = "missing_field"
BAD_NUMBER = "bad_number"
NONPOSITIVE_QUANTITY = "nonpositive_quantity"
PRICE_OUT_OF_RANGE = "price_out_of_range"
RATING_OUT_OF_RANGE = "rating_out_of_range"
BAD_TIMESTAMP = "bad_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
BAD_TYPE = "bad_interaction_type"
DUPLICATE_KEY = "duplicate_key"
UNKNOWN_PRODUCT = "unknown_product"
UNKNOWN_ORDER = "unknown_order"
UNKNOWN_BUNDLE = "unknown_bundle"
BAD_FIELD_COUNT = "bad_field_count"
FIELD_TOO_LARGE = "field_too_large"
UNTERMINATED_QUOTE = "unterminated_quote"
BAD_ID = "bad_id"

MAX_PRICE = 1_000_000.0
MAX_QUANTITY = 1_000_000
#: Epoch numbers: 9-10 digits are seconds (1973-2286), 12-13 digits milliseconds.
EPOCH_SECONDS = r"^\d{9,10}(?:\.\d+)?$"
EPOCH_MILLIS = r"^\d{12,13}$"
EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
TS_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: ``lookup(kind, ids)`` returns the subset of ``ids`` already in the graph (kind: product|order|bundle).
Lookup = Callable[[str, list[str]], set[str]]


def no_graph(kind: str, ids: list[str]) -> set[str]:
    """A lookup for an empty graph."""
    return set()


@dataclass
class FileValidation:
    """One file's outcome: typed accepted rows and quarantined rows (file, line, reason, detail, raw)."""

    name: str
    read: int
    accepted: pd.DataFrame
    rejected: pd.DataFrame
    #: Accepted rows folded into an earlier row with the same key (quantities summed).
    merged: int = 0

    @property
    def accepted_rows(self) -> int:
        """Input rows accepted (merged duplicates included), so read = accepted_rows + quarantined."""
        return len(self.accepted) + self.merged

    @property
    def quarantined(self) -> int:
        return len(self.rejected)

    @property
    def reasons(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.rejected["reason"].value_counts().sort_index().items()}


@dataclass
class _Checker:
    """Reasons for one frame, filled by checks in order (first failure wins)."""

    frame: pd.DataFrame
    reason: pd.Series = field(init=False)
    detail: pd.Series = field(init=False)

    def __post_init__(self) -> None:
        self.reason = pd.Series("", index=self.frame.index, dtype=object)
        self.detail = pd.Series("", index=self.frame.index, dtype=object)

    @property
    def ok(self) -> pd.Series:
        return self.reason == ""

    def fail(self, mask: pd.Series, reason: str, detail: str | pd.Series = "") -> None:
        hit = mask & self.ok
        self.reason[hit] = reason
        self.detail[hit] = detail[hit] if isinstance(detail, pd.Series) else detail

    def required(self, columns: Iterable[str]) -> None:
        for column in columns:
            self.fail(self.frame[column].str.strip() == "", MISSING_FIELD, f"{column} is empty")

    def ids(self, columns: Iterable[str]) -> None:
        """Ids holding control or bidirectional-override characters (they spoof what is displayed)."""
        for column in columns:
            self.fail(
                self.frame[column].str.contains(BAD_ID_CHARS),
                BAD_ID,
                f"{column} holds a control or bidirectional-override character",
            )

    def number(self, column: str, required: bool) -> pd.Series:
        text = self.frame[column].str.strip() if column in self.frame else pd.Series("", index=self.frame.index)
        values = pd.to_numeric(text.where(text != "", None), errors="coerce")
        if required:
            self.fail(text == "", MISSING_FIELD, f"{column} is empty")
        self.fail((text != "") & values.isna(), BAD_NUMBER, f"{column} is not a number")
        return values.astype(float)

    def timestamp(self, column: str, required: bool, now: pd.Timestamp) -> pd.Series:
        """ISO strings (UTC, ``...Z``) or ``''`` for an empty optional value.

        Accepted: ISO 8601 (date, date and time, ``T`` or space, ``Z`` or an offset; no offset = UTC)
        and Unix epoch seconds (9-10 digits, decimals allowed) or milliseconds (12-13 digits).
        """
        text = self.frame[column].str.strip() if column in self.frame else pd.Series("", index=self.frame.index)
        seconds, millis = text.str.match(EPOCH_SECONDS), text.str.match(EPOCH_MILLIS)
        iso = text.where((text != "") & ~seconds & ~millis, None)
        parsed = pd.to_datetime(iso, utc=True, errors="coerce", format="ISO8601")
        for mask, unit in ((seconds, "s"), (millis, "ms")):
            if mask.any():
                epoch = pd.to_datetime(pd.to_numeric(text[mask]), unit=unit, utc=True, errors="coerce")
                parsed[mask] = epoch.astype(parsed.dtype)
        if required:
            self.fail(text == "", MISSING_FIELD, f"{column} is empty")
        self.fail(
            (text != "") & parsed.isna(),
            BAD_TIMESTAMP,
            f"{column} is neither ISO 8601 (2011-01-31T10:00:00Z) nor Unix epoch seconds",
        )
        self.fail(
            (parsed < EARLIEST) | (parsed > now), TIMESTAMP_OUT_OF_RANGE, f"{column} is before 1990 or in the future"
        )
        return parsed.dt.strftime(TS_FORMAT).fillna("")

    def duplicates(self, keyed: pd.DataFrame, key: list[str]) -> pd.Series:
        """Rows still ok whose key repeats an earlier ok row."""
        ok = self.ok
        return keyed.loc[ok, key].duplicated(keep="first").reindex(keyed.index, fill_value=False)

    def references(self, column: str, known: set[str], lookup: Lookup, kind: str, reason: str) -> None:
        ids = self.frame[column]
        unknown = sorted(set(ids[self.ok & ~ids.isin(known)].unique()))
        if unknown:
            known = known | lookup(kind, unknown)
        missing = ~ids.isin(known) & self.ok
        detail = pd.Series("", index=ids.index, dtype=object)
        detail[missing] = f"{column} " + ids[missing] + " is neither in this input nor in the graph"
        self.fail(missing, reason, detail)


def _rejected(name: str, frame: pd.DataFrame, checker: _Checker) -> pd.DataFrame:
    bad = frame[~checker.ok]
    raw = bad.drop(columns=[LINE]).to_dict(orient="records")
    return pd.DataFrame(
        {
            "file": f"{name}.csv",
            "line": bad[LINE].astype("int64").to_numpy(),
            "reason": checker.reason[~checker.ok].to_numpy(),
            "detail": checker.detail[~checker.ok].to_numpy(),
            "raw": [json.dumps(r, ensure_ascii=False) for r in raw],
        }
    )


def _normalise_category(paths: pd.Series) -> pd.Series:
    """``'A>B >  C'`` → ``'A > B > C'`` (segments stripped, empty ones dropped); ``|`` separates paths."""

    def normal(text: str) -> str:
        cleaned = (
            CATEGORY_SEPARATOR.join(s.strip() for s in path.split(">") if s.strip())
            for path in text.split(MULTI_VALUE_SEPARATOR)
        )
        return MULTI_VALUE_SEPARATOR.join(dict.fromkeys(p for p in cleaned if p))

    return paths.map(normal)


def _finish(name: str, frame: pd.DataFrame, checker: _Checker, typed: dict[str, pd.Series]) -> FileValidation:
    accepted = frame.copy()
    for column, values in typed.items():
        accepted[column] = values
    return FileValidation(
        name, len(frame), accepted[checker.ok].reset_index(drop=True), _rejected(name, frame, checker)
    )


def _prepare(name: str, frame: pd.DataFrame) -> tuple[FileSpec, pd.DataFrame]:
    spec = SPECS[name]
    check_header(spec, [c for c in frame.columns if c != "_line"], f"{name} table")
    frame = as_text(with_lines(frame))
    for column in spec.optional:
        if column not in frame:
            frame[column] = ""
    key_columns = set(spec.required) & {"product_id", "user_id", "order_id", "bundle_id", "type"}
    for column in key_columns:
        frame[column] = frame[column].str.strip()
    return spec, frame


def validate_tables(
    tables: CanonicalTables, lookup: Lookup = no_graph, now: datetime | None = None
) -> dict[str, FileValidation]:
    """Validate every present table; the result maps file name → outcome, in write order."""
    now_ts = pd.Timestamp(now or datetime.now(UTC) + timedelta(days=1))
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    known: dict[str, set[str]] = {"product": set(), "order": set(), "bundle": set()}
    out: dict[str, FileValidation] = {}
    for name, raw in tables.present():
        spec, frame = _prepare(name, raw)
        check = _Checker(frame)
        check.required(spec.required)
        check.ids(c for c in spec.required if c.endswith("_id"))
        typed: dict[str, pd.Series] = {}
        if name == "products":
            price = check.number("price", required=False)
            check.fail((price < 0) | (price > MAX_PRICE), PRICE_OUT_OF_RANGE, "price must be within 0..1e6")
            typed = {
                "price": price,
                "category": _normalise_category(frame["category"]),
                "category_derived": frame["category_derived"].str.strip().str.lower().isin(["1", "true", "yes"]),
            }
        elif name == "orders":
            typed = {"timestamp": check.timestamp("timestamp", True, now_ts)}
        elif name == "order_items":
            quantity = check.number("quantity", required=True)
            whole = quantity.isna() | (quantity == np.floor(quantity))
            check.fail(~whole, BAD_NUMBER, "quantity is not a whole number")
            check.fail(quantity <= 0, NONPOSITIVE_QUANTITY, "quantity must be at least 1")
            check.fail(quantity > MAX_QUANTITY, BAD_NUMBER, f"quantity is over {MAX_QUANTITY:,}")
            price = check.number("price", required=False)
            check.fail((price < 0) | (price > MAX_PRICE), PRICE_OUT_OF_RANGE, "price must be within 0..1e6")
            check.references("order_id", known["order"], lookup, "order", UNKNOWN_ORDER)
            typed = {"quantity": quantity.where(check.ok, 0).fillna(0).astype("int64"), "price": price}
        elif name == "interactions":
            kind = frame["type"].str.lower()
            check.fail(~kind.isin(INTERACTION_TYPES), BAD_TYPE, "type must be purchase|view|cart|rating")
            rating = check.number("rating", required=False)
            check.fail((kind == "rating") & rating.isna(), MISSING_FIELD, "rating is empty")
            check.fail((rating < 1) | (rating > 5), RATING_OUT_OF_RANGE, "rating must be within 1..5")
            typed = {"type": kind, "rating": rating, "timestamp": check.timestamp("timestamp", False, now_ts)}
        elif name == "user_bundles":
            typed = {"timestamp": check.timestamp("timestamp", False, now_ts)}
        if "product_id" in spec.required and name != "products":
            check.references("product_id", known["product"], lookup, "product", UNKNOWN_PRODUCT)
        if name in ("bundle_items", "user_bundles"):
            check.references("bundle_id", known["bundle"], lookup, "bundle", UNKNOWN_BUNDLE)
        merge = name in tables.merge_duplicates
        keyed = frame.assign(**{c: typed.get(c, frame[c]) for c in spec.key})
        duplicates = check.duplicates(keyed, list(spec.key))
        if not merge:
            check.fail(duplicates, DUPLICATE_KEY, "same " + "+".join(spec.key) + " as an earlier row")
        result = _finish(name, frame, check, typed)
        if tables.malformed.get(name):
            result = _with_malformed(result, tables.malformed[name])
        if merge and duplicates.any():
            result = _merge(result, spec, int(duplicates.sum()))
        out[name] = result
        ids = result.accepted
        if name == "products":
            known["product"] |= set(ids["product_id"])
        elif name == "orders":
            known["order"] |= set(ids["order_id"])
        elif name == "bundles":
            known["bundle"] |= set(ids["bundle_id"])
    return out


def _with_malformed(result: FileValidation, records: list[RawReject]) -> FileValidation:
    """Count and quarantine records rejected while reading (field count, oversized field, cut-off quote)."""
    rows = pd.DataFrame(
        {
            "file": f"{result.name}.csv",
            "line": [r.line for r in records],
            "reason": [r.reason for r in records],
            "detail": [r.detail for r in records],
            "raw": [json.dumps(r.fields, ensure_ascii=False) for r in records],
        }
    )
    rejected = pd.concat([result.rejected, rows], ignore_index=True).sort_values("line", kind="stable")
    return FileValidation(
        result.name, result.read + len(records), result.accepted, rejected.reset_index(drop=True), result.merged
    )


def _merge(result: FileValidation, spec: FileSpec, merged: int) -> FileValidation:
    """Fold accepted rows sharing a key into the first one, summing ``quantity`` when present."""
    frame = result.accepted
    key = list(spec.key)
    agg = {c: "first" for c in frame.columns if c not in key}
    if "quantity" in frame:
        agg["quantity"] = "sum"
    folded = frame.groupby(key, sort=False, as_index=False).agg(agg)[list(frame.columns)]
    return FileValidation(result.name, result.read, folded, result.rejected, merged)

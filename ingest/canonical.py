"""The canonical input format: eight CSV files any shop can produce, and their in-memory form.

Every source (a shop's folder, or a reader of a public dataset) ends up as ``CanonicalTables``:
one all-text DataFrame per file, exactly as ``pandas.read_csv(dtype=str, keep_default_na=False)``
would give it, so an in-memory table and the same table written to disk ingest identically.
Only ``products.csv`` is required. Columns beyond the known ones are kept as properties;
``attr:<name>`` columns become Attribute nodes (several values separated by ``|``) and
``dattr:<name>`` columns become derived Attribute nodes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kgrec.kg.errors import IngestError

ATTR_PREFIX = "attr:"
DERIVED_ATTR_PREFIX = "dattr:"
MULTI_VALUE_SEPARATOR = "|"
CATEGORY_SEPARATOR = " > "
#: Hidden column carrying each row's source line (header = line 1).
LINE = "_line"


@dataclass(frozen=True)
class FileSpec:
    """One canonical file: its required and optional columns and the columns that key a row."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: tuple[str, ...]
    #: Whether unknown columns become properties (node files) or are kept on relationships.
    extras: bool = True

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


SPECS: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec(
            "products",
            ("product_id",),
            ("title", "description", "category", "category_derived", "brand", "price"),
            ("product_id",),
        ),
        FileSpec("users", ("user_id",), (), ("user_id",)),
        FileSpec("orders", ("order_id", "user_id", "timestamp"), (), ("order_id",)),
        FileSpec("order_items", ("order_id", "product_id", "quantity"), ("price",), ("order_id", "product_id")),
        FileSpec(
            "interactions",
            ("user_id", "product_id", "type"),
            ("timestamp", "rating"),
            ("user_id", "product_id", "type", "timestamp"),
        ),
        FileSpec("bundles", ("bundle_id",), ("title",), ("bundle_id",)),
        FileSpec("bundle_items", ("bundle_id", "product_id"), (), ("bundle_id", "product_id")),
        FileSpec("user_bundles", ("user_id", "bundle_id"), ("timestamp",), ("user_id", "bundle_id", "timestamp")),
    )
}

#: Order in which files are validated and written (references point backwards).
FILE_ORDER: tuple[str, ...] = (
    "products",
    "users",
    "orders",
    "order_items",
    "interactions",
    "bundles",
    "bundle_items",
    "user_bundles",
)

INTERACTION_TYPES: tuple[str, ...] = ("purchase", "view", "cart", "rating")

#: Property names a node already uses; an extra column that sanitises to one of them gets ``x_``.
RESERVED_PROPERTIES = frozenset(
    {
        "id",
        "title",
        "description",
        "price",
        "embedding",
        "text_hash",
        "timestamp",
        "source",
        "name",
        "key",
        "value",
        "derived",
        "path",
        "level",
    }
)


@dataclass
class CanonicalTables:
    """The canonical files in memory (all-text DataFrames); ``None`` means the file is absent."""

    products: pd.DataFrame
    users: pd.DataFrame | None = None
    orders: pd.DataFrame | None = None
    order_items: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    bundles: pd.DataFrame | None = None
    bundle_items: pd.DataFrame | None = None
    user_bundles: pd.DataFrame | None = None
    #: Rows a source reader dropped before the canonical stage, counted per reason.
    dropped: dict[str, int] = field(default_factory=dict)
    #: Duplicate keys of these files are merged (quantities summed) instead of quarantined.
    merge_duplicates: frozenset[str] = frozenset()
    #: Records whose field count did not match the header: file name → [(line, fields)].
    malformed: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)

    def present(self) -> list[tuple[str, pd.DataFrame]]:
        """(name, frame) of every file present, in write order."""
        return [(name, frame) for name in FILE_ORDER if (frame := getattr(self, name)) is not None]


def sanitize_property(column: str) -> str:
    """A safe Neo4j property name for a free-form column (lowercase, ``[a-z0-9_]``, not reserved)."""
    name = re.sub(r"[^0-9a-z_]+", "_", column.strip().lower()).strip("_") or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    return f"x_{name}" if name in RESERVED_PROPERTIES else name


def attribute_name(column: str) -> str | None:
    """The attribute name of an ``attr:``/``dattr:`` column, else None."""
    for prefix in (ATTR_PREFIX, DERIVED_ATTR_PREFIX):
        if column.startswith(prefix):
            return sanitize_property(column[len(prefix) :])
    return None


def extra_columns(spec: FileSpec, frame: pd.DataFrame) -> list[str]:
    """Columns of ``frame`` beyond the spec, except attribute columns and the line column."""
    return [c for c in frame.columns if c not in spec.known and c != LINE and attribute_name(c) is None]


def check_header(spec: FileSpec, columns: list[str], where: str) -> None:
    """Raise IngestError naming the missing required columns."""
    missing = [c for c in spec.required if c not in columns]
    if missing:
        raise IngestError(
            f"{where}: missing column(s) {', '.join(missing)}; {spec.filename} needs a header with "
            f"{', '.join(spec.required)} (optional: {', '.join(spec.optional) or 'none'}, plus any extra columns)"
        )
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise IngestError(f"{where}: column(s) {', '.join(duplicated)} appear twice in the header; keep one")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as plain ``str`` with ``''`` for missing, like a CSV read with dtype=str."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        series = frame[column]
        if column == LINE:
            out[column] = series.astype("int64")
            continue
        text = series.astype("object").where(series.notna(), "")
        out[column] = text.map(str) if text.map(type).ne(str).any() else text
    return out


def with_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the line column (header = line 1) when absent, numbering rows in their current order."""
    if LINE in frame.columns:
        return frame
    frame = frame.reset_index(drop=True)
    frame.insert(0, LINE, range(2, len(frame) + 2))
    return frame


def read_csv_file(path: Path, spec: FileSpec) -> tuple[pd.DataFrame, list[tuple[int, list[str]]]]:
    """All-text rows of one canonical file with their physical line numbers, plus malformed records.

    A record whose field count differs from the header's is returned apart (line, fields) so that
    it is quarantined instead of failing the whole file; blank lines are skipped.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [c.strip() for c in next(reader, [])]
            check_header(spec, header, str(path))
            rows: list[list[str]] = []
            lines: list[int] = []
            malformed: list[tuple[int, list[str]]] = []
            start = reader.line_num + 1
            for record in reader:
                if len(record) == len(header):
                    rows.append(record)
                    lines.append(start)
                elif record:
                    malformed.append((start, record))
                start = reader.line_num + 1
    except (UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"{path} is not a readable UTF-8 CSV file ({exc}); fix or re-export it") from exc
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame.insert(0, LINE, pd.Series(lines, dtype="int64"))
    return frame, malformed


def read_folder(folder: Path) -> CanonicalTables:
    """Read the canonical CSVs of ``folder``; IngestError when products.csv or a header is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestError(f"{folder} is not a folder: give a folder that holds products.csv and friends")
    if not (folder / "products.csv").is_file():
        raise IngestError(f"{folder} has no products.csv: every canonical folder needs one (see docs/ingest.md)")
    frames: dict[str, pd.DataFrame] = {}
    malformed: dict[str, list[tuple[int, list[str]]]] = {}
    for name, spec in SPECS.items():
        path = folder / spec.filename
        if path.is_file():
            frames[name], bad = read_csv_file(path, spec)
            if bad:
                malformed[name] = bad
    return CanonicalTables(**frames, malformed=malformed)


def write_folder(tables: CanonicalTables, folder: Path) -> list[Path]:
    """Write each present table as ``<folder>/<name>.csv`` (UTF-8, no index); returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.present():
        path = folder / SPECS[name].filename
        frame.drop(columns=[LINE], errors="ignore").to_csv(path, index=False, lineterminator="\n")
        paths.append(path)
    return paths

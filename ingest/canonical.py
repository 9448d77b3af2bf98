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
import io
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
    #: Records rejected while reading (field count, oversized field, cut-off quote): file name → rejects.
    malformed: dict[str, list[RawReject]] = field(default_factory=dict)
    #: How files were read when not comma-delimited UTF-8 (``products.csv read as semicolon-delimited utf-8``).
    notes: list[str] = field(default_factory=list)

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
    # whole-frame operations, not one per column: a file with thousands of columns stays fast
    body = frame.drop(columns=[LINE], errors="ignore").astype(object)
    body = body.where(body.notna(), "")
    not_text = body.map(lambda v: type(v) is not str).any()
    if not_text.any():
        converted = body.loc[:, not_text].map(str).astype(object)
        body = pd.concat([body.loc[:, ~not_text], converted], axis=1)[list(body.columns)]
    if LINE in frame.columns:
        body.insert(list(frame.columns).index(LINE), LINE, frame[LINE].astype("int64"))
    return body


def with_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the line column (header = line 1) when absent, numbering rows in their current order."""
    if LINE in frame.columns:
        return frame
    frame = frame.reset_index(drop=True)
    frame.insert(0, LINE, range(2, len(frame) + 2))
    return frame


#: A field longer than this many characters quarantines its row (``field_too_large``), not the file.
MAX_FIELD_CHARS = 100_000
#: The csv module's own limit, raised so that an oversized field reaches the per-row check above.
CSV_FIELD_LIMIT = 1 << 30
#: Delimiters tried, in order, when none is given: the first whose header has the required columns wins.
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
#: Characters an id may not hold: C0/C1 controls and Unicode bidirectional overrides (they spoof display).
BAD_ID_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class RawReject:
    """A record rejected while reading, before validation: its physical line, fields and reason."""

    line: int
    fields: list[str]
    reason: str
    detail: str


@dataclass(frozen=True)
class CsvFormat:
    """How a file was read: its delimiter and encoding (for the report)."""

    delimiter: str
    encoding: str

    def describe(self) -> str:
        return f"{_DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-delimited {self.encoding}"


def decode(path: Path, encoding: str | None) -> tuple[str, str]:
    """The text of ``path`` and the encoding used: ``encoding`` if given, else UTF-8 (BOMs honoured).

    A file that is not valid in the chosen encoding is fatal, with the line of the first bad byte and
    the ``--encoding`` to pass (most such files are Windows-1252 / Latin-1 exports).
    """
    data = path.read_bytes()
    if encoding is None:
        encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except LookupError as exc:
        raise IngestError(f"unknown encoding {encoding!r}: pass --encoding utf-8, cp1252 or latin-1") from exc
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = "it looks like Windows-1252/Latin-1: pass --encoding cp1252" if encoding.startswith("utf-8") else ""
        raise IngestError(
            f"{path} is not {encoding.removesuffix('-sig').upper()} (byte 0x{data[exc.start]:02x} on line {line}); "
            f"{hint or 'pass the right --encoding'}, or re-export the file as UTF-8"
        ) from exc
    if "\x00" in text:
        raise IngestError(
            f"{path} contains NUL bytes: it is binary, or UTF-16 without a byte-order mark "
            "(pass --encoding utf-16); re-export it as UTF-8 CSV"
        )
    return text.removeprefix("\ufeff"), encoding.removesuffix("-sig")


def _header(text: str, delimiter: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    return [c.strip() for c in first]


def normalise_header(spec: FileSpec, header: list[str]) -> list[str]:
    """Known column names matched case-insensitively (``Product_ID`` → ``product_id``)."""
    known = {c.lower(): c for c in spec.known}
    return [known.get(c.lower(), c) if attribute_name(c) is None else c for c in header]


def choose_delimiter(spec: FileSpec, text: str, where: str, delimiter: str | None) -> str:
    """The given delimiter, else the first of ``DELIMITERS`` whose header has every required column.

    When none fits, IngestError names the missing columns and, if another delimiter splits the
    header better, says so (``looks like ';'-delimited: pass --delimiter ';'``).
    """
    if not text.strip():
        raise IngestError(f"{where} is empty: it needs at least a header line ({', '.join(spec.required)})")
    candidates = (delimiter,) if delimiter else DELIMITERS
    for d in candidates:
        if all(c in normalise_header(spec, _header(text, d)) for c in spec.required):
            return d
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in DELIMITERS if d != (delimiter or ",")}
    likely = max(counts, key=lambda d: counts[d])
    hint = ""
    if counts[likely] > first_line.count(delimiter or ","):
        shown = "\\t" if likely == "\t" else likely
        hint = f" (it looks {_DELIMITER_NAMES[likely]}-delimited: pass --delimiter '{shown}')"
    try:
        check_header(spec, normalise_header(spec, _header(text, delimiter or ",")), where)
    except IngestError as exc:
        raise IngestError(f"{exc}{hint}") from None
    raise IngestError(f"{where}: cannot find the header columns {', '.join(spec.required)}{hint}")  # pragma: no cover


def read_csv_file(
    path: Path, spec: FileSpec, *, delimiter: str | None = None, encoding: str | None = None
) -> tuple[pd.DataFrame, list[RawReject], CsvFormat]:
    """All-text rows of one canonical file with their physical line numbers, rejected records, format.

    Rejected while reading (quarantined, the file goes on): a record whose field count differs from
    the header's (``bad_field_count``), a field over ``MAX_FIELD_CHARS`` (``field_too_large``), a last
    record cut off inside a quoted field (``unterminated_quote``). Blank lines are skipped. Fatal
    (IngestError, nothing written): undecodable bytes, an empty file, a header without the required
    columns (with the delimiter it seems to use).
    """
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    text, used = decode(path, encoding)
    delimiter = choose_delimiter(spec, text, str(path), delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    raw_header = [c.strip() for c in next(reader, [])]
    header = normalise_header(spec, raw_header)
    check_header(spec, [c for c in header if c], str(path))
    keep = [i for i, c in enumerate(header) if c]  # unnamed columns (a trailing delimiter) are ignored
    header = [header[i] for i in keep]
    rows: list[list[str]] = []
    lines: list[int] = []
    rejects: list[RawReject] = []
    start = reader.line_num + 1
    width = len(raw_header)
    try:
        for record in reader:
            if len(record) == width and max(map(len, record), default=0) <= MAX_FIELD_CHARS:
                rows.append([record[i] for i in keep] if len(keep) != width else record)
                lines.append(start)
            elif len(record) == width:
                longest = max(range(width), key=lambda i: len(record[i]))
                rejects.append(
                    RawReject(
                        start,
                        [f[:200] for f in record],
                        "field_too_large",
                        f"{raw_header[longest] or 'a field'} has {len(record[longest]):,} characters "
                        f"(at most {MAX_FIELD_CHARS:,})",
                    )
                )
            elif record:
                rejects.append(
                    RawReject(
                        start,
                        [f[:200] for f in record],
                        "bad_field_count",
                        f"{len(record)} fields, the header has {width}",
                    )
                )
            start = reader.line_num + 1
    except csv.Error as exc:
        raise IngestError(f"{path} is not a readable CSV file near line {start} ({exc}); fix or re-export it") from exc
    if lines and _unterminated(text, lines[-1], delimiter):
        del rows[-1]
        rejects.append(
            RawReject(lines.pop(), [], "unterminated_quote", "the file ends inside a quoted field (truncated?)")
        )
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame.insert(0, LINE, pd.Series(lines, dtype="int64"))
    return frame, sorted(rejects, key=lambda r: r.line), CsvFormat(delimiter, used)


def _unterminated(text: str, line: int, delimiter: str) -> bool:
    """Whether the record starting at physical ``line`` runs to the end of the file inside quotes."""
    tail = "\n".join(text.replace("\r\n", "\n").split("\n")[line - 1 :])
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error:
        return True
    return False


def read_folder(folder: Path, *, delimiter: str | None = None, encoding: str | None = None) -> CanonicalTables:
    """Read the canonical CSVs of ``folder``; IngestError when products.csv or a header is wrong.

    ``delimiter`` / ``encoding``: as ``read_csv_file`` (None = detect the delimiter, UTF-8).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestError(f"{folder} is not a folder: give a folder that holds products.csv and friends")
    if not (folder / "products.csv").is_file():
        raise IngestError(f"{folder} has no products.csv: every canonical folder needs one (see docs/ingest.md)")
    frames: dict[str, pd.DataFrame] = {}
    rejects: dict[str, list[RawReject]] = {}
    notes: list[str] = []
    for name, spec in SPECS.items():
        path = folder / spec.filename
        if path.is_file():
            frames[name], bad, fmt = read_csv_file(path, spec, delimiter=delimiter, encoding=encoding)
            if bad:
                rejects[name] = bad
            if fmt != CsvFormat(",", "utf-8"):
                notes.append(f"{spec.filename} read as {fmt.describe()}")
    return CanonicalTables(**frames, malformed=rejects, notes=notes)


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

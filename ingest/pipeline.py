"""Ingest one source: read → validate → write accepted rows in batches → quarantine the rest.

``ingest_source`` takes a canonical folder or a named dataset (``sample``, ``online-retail``,
``movielens``, ``youshu``, ``amazon-book``); ``ingest_tables`` takes tables already in memory.
Both return an ``IngestReport`` whose counts add up per file (read = accepted + quarantined).
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from kgrec.ingest import writer
from kgrec.ingest.canonical import CanonicalTables, read_folder
from kgrec.ingest.datasets import DATASET_FOLDERS, DEFAULT_DATA_DIR, NAMED_SOURCES, SAMPLE_DIR
from kgrec.ingest.validate import FileValidation, Lookup, validate_tables
from kgrec.kg import cypher
from kgrec.kg.connection import DEFAULT_WRITE_BATCH_SIZE, GraphConnection, WriteSummary, batched
from kgrec.kg.copurchase import DEFAULT_MIN_ORDERS, CopurchaseSummary, recompute_bought_with
from kgrec.kg.errors import IngestError
from kgrec.kg.schema import Label, ensure_schema

Writer = Callable[[GraphConnection, pd.DataFrame, int, Callable[[int], None] | None], WriteSummary]
WRITERS: dict[str, Writer] = {
    "products": writer.write_products,
    "users": writer.write_users,
    "orders": writer.write_orders,
    "order_items": writer.write_order_items,
    "interactions": writer.write_interactions,
    "bundles": writer.write_bundles,
    "bundle_items": writer.write_bundle_items,
    "user_bundles": writer.write_user_bundles,
}


@dataclass(frozen=True)
class FileReport:
    """One canonical file: rows read, accepted (merged duplicates included), quarantined per reason."""

    name: str
    read: int
    accepted: int
    quarantined: int
    merged: int
    reasons: dict[str, int]

    @property
    def adds_up(self) -> bool:
        return self.read == self.accepted + self.quarantined and self.quarantined == sum(self.reasons.values())


@dataclass
class IngestReport:
    """What one ingest did; ``files`` in write order, ``dropped`` = rows a source reader discarded."""

    source: str
    files: list[FileReport] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0
    purchased_users: int = 0
    copurchase: CopurchaseSummary | None = None
    quarantine_files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    #: Wall-clock seconds per step (validate, write <file>, purchased, copurchase).
    timings: dict[str, float] = field(default_factory=dict)
    #: How files were read when not comma-delimited UTF-8 (detected or given).
    notes: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return sum(f.read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def reasons(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for f in self.files:
            for reason, n in f.reasons.items():
                totals[reason] = totals.get(reason, 0) + n
        return dict(sorted(totals.items()))

    def file(self, name: str) -> FileReport:
        """The report of one file; IngestError if that file was not part of the input."""
        for f in self.files:
            if f.name == name:
                return f
        raise IngestError(f"{name}.csv was not part of source {self.source!r}")

    def adds_up(self) -> bool:
        return all(f.adds_up for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["quarantine_files"] = [str(p) for p in self.quarantine_files]
        out.update(read=self.read, accepted=self.accepted, quarantined=self.quarantined, reasons=self.reasons)
        return out


def graph_lookup(conn: GraphConnection, read_batch_size: int = 10_000) -> Lookup:
    """A validation lookup answering which product/order/bundle ids the graph already holds."""
    labels = {"product": Label.PRODUCT, "order": Label.ORDER, "bundle": Label.BUNDLE}

    def lookup(kind: str, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in batched(ids, read_batch_size):
            found |= {r["id"] for r in conn.read(cypher.EXISTING_IDS[labels[kind]], {"ids": chunk})}
        return found

    return lookup


def write_quarantine(results: dict[str, FileValidation], folder: Path) -> list[Path]:
    """``<folder>/<file>.quarantine.csv`` for each file with rejected rows (stale ones removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, result in results.items():
        path = folder / f"{name}.quarantine.csv"
        path.unlink(missing_ok=True)
        if len(result.rejected):
            result.rejected.to_csv(path, index=False, lineterminator="\n")
            paths.append(path)
    return paths


def _affected_users(conn: GraphConnection, results: dict[str, FileValidation]) -> set[str]:
    """Users whose PURCHASED may change: they placed accepted orders, items or purchase events."""
    users: set[str] = set()
    if "orders" in results:
        users |= set(results["orders"].accepted["user_id"])
    if "order_items" in results:
        order_ids = sorted(set(results["order_items"].accepted["order_id"]))
        rows = conn.read(cypher.USERS_OF_ORDERS, {"ids": order_ids})
        users |= {r["id"] for r in rows}
    if "interactions" in results:
        frame = results["interactions"].accepted
        users |= set(frame.loc[frame["type"] == "purchase", "user_id"])
    return users


def ingest_tables(
    conn: GraphConnection,
    tables: CanonicalTables,
    *,
    source: str = "tables",
    quarantine_dir: Path | None = None,
    write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE,
    copurchase: bool = True,
    min_orders: int = DEFAULT_MIN_ORDERS,
    progress: bool = False,
) -> IngestReport:
    """Validate and write ``tables``; quarantine files go to ``quarantine_dir/<source>/`` if given.

    ``write_batch_size``: rows per UNWIND write transaction (``Settings.write_batch_size``).
    """
    started = time.perf_counter()
    ensure_schema(conn)
    results = validate_tables(tables, graph_lookup(conn))
    report = IngestReport(source=source, dropped=dict(tables.dropped), notes=list(tables.notes))
    report.timings["validate"] = time.perf_counter() - started
    if quarantine_dir is not None:
        report.quarantine_files = write_quarantine(results, Path(quarantine_dir) / source_label(source))
    total = WriteSummary()
    writers = dict(WRITERS)
    if "orders" in results:
        ids = sorted(set(results["orders"].accepted["order_id"]))
        new_orders = set(ids) - graph_lookup(conn)("order", ids)
        writers["order_items"] = partial(writer.write_order_items, new_orders=new_orders)
    for name, result in results.items():
        report.files.append(
            FileReport(name, result.read, result.accepted_rows, result.quarantined, result.merged, result.reasons)
        )
        step = time.perf_counter()
        with tqdm(
            total=len(result.accepted), desc=f"write {name}", unit="row", disable=not progress, leave=False
        ) as bar:
            total += writers[name](conn, result.accepted, write_batch_size, bar.update)
        report.timings[f"write {name}"] = time.perf_counter() - step
    with derived_lock(conn):
        _recompute_derived(conn, results, report, total, copurchase, min_orders, write_batch_size, progress)
    report.seconds = time.perf_counter() - started
    return report


def _recompute_derived(
    conn: GraphConnection,
    results: dict[str, FileValidation],
    report: IngestReport,
    total: WriteSummary,
    copurchase: bool,
    min_orders: int,
    write_batch_size: int,
    progress: bool,
) -> None:
    """PURCHASED of the touched users, then BOUGHT_WITH from all baskets; fills the report's counts."""
    step = time.perf_counter()
    users = _affected_users(conn, results)
    if users:
        with tqdm(total=len(users), desc="PURCHASED", unit="user", disable=not progress, leave=False) as bar:
            total += writer.recompute_purchased(conn, sorted(users), progress=bar.update)
        report.timings["purchased"] = time.perf_counter() - step
    report.purchased_users = len(users)
    if copurchase and "order_items" in results and len(results["order_items"].accepted):
        step = time.perf_counter()
        report.copurchase = recompute_bought_with(conn, min_orders=min_orders, write_batch_size=write_batch_size)
        total += WriteSummary(relationships_created=report.copurchase.relationships)
        report.timings["copurchase"] = time.perf_counter() - step
    report.nodes_created = total.nodes_created
    report.relationships_created = total.relationships_created
    report.properties_set = total.properties_set


@contextmanager
def derived_lock(conn: GraphConnection) -> Iterator[None]:
    """Serialise the derived recomputations of ingests into the same server from this machine.

    PURCHASED and BOUGHT_WITH are rebuilt from the whole graph (BOUGHT_WITH: delete, then create);
    two ingests rebuilding at once would interleave and leave duplicates. One at a time, the last
    rebuild runs after every ingest's writes, so the graph ends as one ingest of all the data. The
    lock is a file lock (``flock``) named after the server's address, in the temporary folder.
    """
    creds = conn.credentials
    name = hashlib.sha256(f"{creds.uri}/{creds.database}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"kgrec-derived-{name}.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def source_label(source: str) -> str:
    """The quarantine subfolder of a source: its folder name or dataset name, safe as a file name."""
    name = Path(source).name if ("/" in source or "\\" in source) else source
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "source"


#: Errors a dataset reader meets in a damaged or foreign file (missing file, bad numbers, wrong columns).
READER_ERRORS = (OSError, ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, pd.errors.ParserError)


def load_source(
    source: str | Path,
    data_dir: Path | None = None,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> CanonicalTables:
    """Canonical tables of a named dataset (read from ``data_dir``) or of a canonical folder.

    ``delimiter`` / ``encoding`` apply to canonical folders (None: detect the delimiter, UTF-8). A
    dataset file a reader cannot parse is an IngestError naming the folder, never a traceback.
    """
    data = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    name = str(source)
    if name == "sample":
        return read_folder(SAMPLE_DIR)
    if name in NAMED_SOURCES:
        from kgrec.ingest.sources import amazon_book, movielens, online_retail, youshu

        readers = {
            "online-retail": online_retail.read_online_retail,
            "movielens": movielens.read_movielens,
            "youshu": youshu.read_youshu,
            "amazon-book": amazon_book.read_amazon_book,
        }
        folder = data / DATASET_FOLDERS[name]
        if not folder.is_dir():
            raise IngestError(f"dataset {name!r} not found at {folder}: pass --data-dir pointing at shared/data")
        try:
            return readers[name](folder)
        except READER_ERRORS as exc:
            raise IngestError(
                f"dataset {name!r} at {folder} could not be read ({type(exc).__name__}: {str(exc)[:300]}); "
                "restore the files as published (see docs/ingest.md) and rerun"
            ) from exc
    path = Path(source)
    if not path.exists():
        raise IngestError(f"{source!r} is neither a folder nor one of {', '.join(NAMED_SOURCES)}")
    return read_folder(path, delimiter=delimiter, encoding=encoding)


def ingest_source(
    conn: GraphConnection,
    source: str | Path,
    *,
    data_dir: Path | None = None,
    quarantine_dir: Path | None = None,
    write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE,
    copurchase: bool = True,
    min_orders: int = DEFAULT_MIN_ORDERS,
    progress: bool = False,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> IngestReport:
    """Ingest a canonical folder or a named dataset into the graph and report what happened.

    Everything is read and validated before the first write, so a fatal input problem writes nothing.
    """
    started = time.perf_counter()
    tables = load_source(source, data_dir, delimiter=delimiter, encoding=encoding)
    report = ingest_tables(
        conn,
        tables,
        source=str(source),
        quarantine_dir=quarantine_dir,
        write_batch_size=write_batch_size,
        copurchase=copurchase,
        min_orders=min_orders,
        progress=progress,
    )
    report.seconds = time.perf_counter() - started
    return report

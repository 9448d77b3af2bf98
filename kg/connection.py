"""The only place that owns a Neo4j driver: explicit connect/close, batched writes, retried reads.

Constructing a ``GraphConnection`` never touches the network; call ``connect()`` (or use it as a
context manager). Transient failures are retried by the driver's managed transactions
(``execute_read`` / ``execute_write``), so a batch is either written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from neo4j import Driver, GraphDatabase, ManagedTransaction
from neo4j.exceptions import AuthError, ServiceUnavailable

from kgrec.kg.credentials import Neo4jCredentials
from kgrec.kg.cypher import CLEAR_NODES, CLEAR_RELATIONSHIPS
from kgrec.kg.errors import Neo4jUnavailableError, NotConnectedError

__all__ = [
    "DEFAULT_DELETE_BATCH_SIZE",
    "DEFAULT_WRITE_BATCH_SIZE",
    "GraphConnection",
    "Neo4jCredentials",  # defined in kg/credentials.py (no driver import); re-exported for callers
    "WriteSummary",
    "batched",
]

T = TypeVar("T")
Row = Mapping[str, Any]

#: Rows per UNWIND write transaction when the caller gives none (``Settings.write_batch_size``).
DEFAULT_WRITE_BATCH_SIZE = 5_000
#: Rows per ``CALL { ... } IN TRANSACTIONS`` of a whole-graph delete.
DEFAULT_DELETE_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class WriteSummary:
    """What a batched write did, added up over its batches."""

    rows: int = 0
    batches: int = 0
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0

    def __add__(self, other: WriteSummary) -> WriteSummary:
        return WriteSummary(
            self.rows + other.rows,
            self.batches + other.batches,
            self.nodes_created + other.nodes_created,
            self.relationships_created + other.relationships_created,
            self.properties_set + other.properties_set,
        )


def batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` rows."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class GraphConnection:
    """A Neo4j driver's life cycle plus the few query shapes kgrec needs."""

    def __init__(self, credentials: Neo4jCredentials, **driver_options: Any) -> None:
        """``driver_options``: neo4j driver settings (e.g. short timeouts for a server that must fail fast)."""
        self.credentials = credentials
        self.driver_options = driver_options
        self._driver: Driver | None = None

    # -- life cycle ---------------------------------------------------------------------------
    def connect(self) -> GraphConnection:
        """Open the driver and check that the server answers; raises Neo4jUnavailableError."""
        if self._driver is not None:
            return self
        creds = self.credentials
        driver = GraphDatabase.driver(creds.uri, auth=(creds.user, creds.password), **self.driver_options)
        try:
            driver.verify_connectivity()
        except AuthError as exc:
            driver.close()
            raise Neo4jUnavailableError(
                f"Neo4j at {creds.uri} refused user {creds.user!r}: check KGREC_NEO4J_USER / "
                "KGREC_NEO4J_PASSWORD (a local server's password is in its state folder)"
            ) from exc
        except (ServiceUnavailable, OSError) as exc:
            driver.close()
            raise Neo4jUnavailableError(
                f"No Neo4j answers at {creds.uri}: run `kgrec db start`, or set KGREC_NEO4J_URI "
                f"to a running server ({exc})"
            ) from exc
        self._driver = driver
        return self

    def close(self) -> None:
        """Close the driver; safe to call twice."""
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def __enter__(self) -> GraphConnection:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def driver(self) -> Driver:
        if self._driver is None:
            raise NotConnectedError("GraphConnection is not connected: call connect() first")
        return self._driver

    # -- queries ------------------------------------------------------------------------------
    def execute(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one auto-committed statement (schema DDL, admin calls) and return its records."""
        with self.driver.session(database=self.credentials.database) as session:
            result = session.run(cypher, dict(parameters or {}))
            return [record.data() for record in result]

    def read(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a read query in a retried read transaction and return its records as dicts."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [r.data() for r in tx.run(cypher, dict(parameters or {}))]

        with self.driver.session(database=self.credentials.database) as session:
            return session.execute_read(work)

    def read_stream(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Stream records of a large read without holding them all (no retry: single pass)."""
        with self.driver.session(database=self.credentials.database) as session:
            for record in session.run(cypher, dict(parameters or {})):
                yield record.data()

    def write(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> WriteSummary:
        """Run one write statement in a retried write transaction."""

        def work(tx: ManagedTransaction) -> WriteSummary:
            counters = tx.run(cypher, dict(parameters or {})).consume().counters
            return WriteSummary(
                rows=1,
                batches=1,
                nodes_created=counters.nodes_created,
                relationships_created=counters.relationships_created,
                properties_set=counters.properties_set,
            )

        with self.driver.session(database=self.credentials.database) as session:
            return session.execute_write(work)

    def write_batches(
        self,
        cypher: str,
        rows: Iterable[Row],
        *,
        write_batch_size: int = DEFAULT_WRITE_BATCH_SIZE,
        extra: Mapping[str, Any] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> WriteSummary:
        """UNWIND ``rows`` through ``cypher`` (which reads ``$rows``), one transaction per batch.

        ``on_batch`` receives the size of each committed batch (for progress bars).
        """
        total = WriteSummary()
        for chunk in batched(rows, write_batch_size):
            summary = self.write(cypher, {**(extra or {}), "rows": [dict(r) for r in chunk]})
            total = total + WriteSummary(
                rows=len(chunk),
                batches=1,
                nodes_created=summary.nodes_created,
                relationships_created=summary.relationships_created,
                properties_set=summary.properties_set,
            )
            if on_batch is not None:
                on_batch(len(chunk))
        return total

    def count(self, cypher: str, parameters: Mapping[str, Any] | None = None) -> int:
        """Run a query that returns one row with one number."""
        rows = self.read(cypher, parameters)
        return int(next(iter(rows[0].values()))) if rows else 0

    def clear(self, delete_batch_size: int = DEFAULT_DELETE_BATCH_SIZE) -> None:
        """Delete every relationship, then every node, in batches (tests and benchmarks only).

        Relationships go first so that no transaction has to detach millions of them from a
        few densely linked nodes (that runs out of transaction memory).
        """
        self.execute(CLEAR_RELATIONSHIPS, {"size": delete_batch_size})
        self.execute(CLEAR_NODES, {"size": delete_batch_size})

"""Helpers shared by the reliability tests and ``bench/reliability.py``: graph fingerprints, corpus runs.

``fingerprint(conn)`` is what "the same graph" means here: node counts per label, relationship
counts per type, and a sha256 over every node (labels, properties) and relationship (type, both
endpoints' keys, properties), sorted, so two graphs with equal fingerprints hold the same data.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kgrec.ingest.pipeline import SAMPLE_DIR, IngestReport, ingest_source, source_label
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.errors import IngestError
from kgrec.kg.local_server import LocalNeo4j
from kgrec.kg.schema import ensure_schema
from tests.reliability.corpus import Case

NODES = "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props, coalesce(n.id, n.key, n.path, n.name) AS key"
RELATIONSHIPS = (
    "MATCH (a)-[r]->(b) RETURN type(r) AS type, labels(a)[0] + ':' + coalesce(a.id, a.key, a.path, a.name) AS a, "
    "labels(b)[0] + ':' + coalesce(b.id, b.key, b.path, b.name) AS b, properties(r) AS props"
)
#: Properties left out of the checksum: vectors written by `kgrec embed`, not by ingest.
SKIPPED = {"embedding", "text_hash"}


@dataclass(frozen=True)
class Fingerprint:
    """Counts per label and relationship type, and a content checksum of the whole graph."""

    labels: dict[str, int]
    types: dict[str, int]
    checksum: str

    @property
    def nodes(self) -> int:
        return sum(self.labels.values())


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    return str(value)  # neo4j.time.DateTime and friends


def fingerprint(conn: GraphConnection) -> Fingerprint:
    """The graph's fingerprint (reads everything: meant for test-sized graphs and the demo sample)."""
    digest = hashlib.sha256()
    labels: dict[str, int] = {}
    lines = []
    for row in conn.read_stream(NODES):
        for label in row["labels"]:
            labels[label] = labels.get(label, 0) + 1
        props = {k: _plain(v) for k, v in row["props"].items() if k not in SKIPPED}
        lines.append(json.dumps([sorted(row["labels"]), props], sort_keys=True, ensure_ascii=False))
    types: dict[str, int] = {}
    for row in conn.read_stream(RELATIONSHIPS):
        types[row["type"]] = types.get(row["type"], 0) + 1
        props = {k: _plain(v) for k, v in row["props"].items()}
        lines.append(json.dumps([row["type"], row["a"], row["b"], props], sort_keys=True, ensure_ascii=False))
    for line in sorted(lines):
        digest.update(line.encode())
        digest.update(b"\n")
    return Fingerprint(dict(sorted(labels.items())), dict(sorted(types.items())), digest.hexdigest())


def materialise(case: Case, folder: Path) -> Path:
    """Write the case's files under ``folder``; returns the folder to ingest (or the data dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.build().items():
        path = folder / (name if case.source else f"{name}.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


@dataclass
class Outcome:
    """What one corpus case did: its report, or its fatal message, or the unexpected exception."""

    case: Case
    report: IngestReport | None = None
    fatal: str | None = None
    crash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.crash is None and not self.problems


def run_case(conn: GraphConnection, case: Case, work: Path, twice: bool = True) -> Outcome:
    """Empty the graph, ingest the case and compare everything with its expectations.

    ``twice``: ingest a successful case a second time and require an unchanged fingerprint.
    """
    conn.clear()
    ensure_schema(conn)
    folder = materialise(case, work / "input")
    outcome = Outcome(case)
    try:
        outcome.report = ingest_source(
            conn,
            case.source or folder,
            data_dir=folder,
            quarantine_dir=work / "quarantine",
            delimiter=case.delimiter,
            encoding=case.encoding,
        )
    except IngestError as error:
        outcome.fatal = str(error)
    except Exception as error:  # a crash is what the corpus exists to find
        outcome.crash = f"{type(error).__name__}: {error}"
        return outcome
    outcome.problems = check(conn, case, outcome, work / "quarantine")
    if twice and outcome.report is not None:  # the same input again changes nothing
        before = fingerprint(conn)
        ingest_source(conn, case.source or folder, data_dir=folder, delimiter=case.delimiter, encoding=case.encoding)
        if fingerprint(conn) != before:
            outcome.problems.append("a second ingest of the same input changed the graph")
    return outcome


def check(conn: GraphConnection, case: Case, outcome: Outcome, quarantine: Path) -> list[str]:
    """Every way the outcome differs from the case's expectations (empty: as expected)."""
    import re

    problems: list[str] = []
    if case.fatal is not None:
        if outcome.fatal is None:
            return [f"expected a fatal error matching {case.fatal!r}, the ingest succeeded"]
        if not re.search(case.fatal, outcome.fatal):
            problems.append(f"fatal message {outcome.fatal!r} does not match {case.fatal!r}")
        if "\n" in outcome.fatal.strip():
            problems.append("the fatal message is more than one line")
        written = conn.count("MATCH (n) RETURN count(n) AS n")
        if written:
            problems.append(f"a fatal input wrote {written} nodes")
        return problems
    if outcome.fatal is not None:
        return [f"unexpected fatal error: {outcome.fatal}"]
    report = outcome.report
    assert report is not None
    if not report.adds_up():
        problems.append("read != accepted + quarantined for some file")
    for f in report.files:
        want_accepted = case.accepted.get(f.name)
        if want_accepted is not None and f.accepted != want_accepted:
            problems.append(f"{f.name}: accepted {f.accepted}, expected {want_accepted}")
        path = quarantine / source_label(report.source) / f"{f.name}.quarantine.csv"
        rows = pd.read_csv(path, dtype={"line": int}, keep_default_na=False) if path.is_file() else pd.DataFrame()
        got = list(zip(rows["line"], rows["reason"], strict=True)) if len(rows) else []
        want = case.rejected.get(f.name, [])
        if got != want:
            problems.append(f"{f.name}: quarantined {got}, expected {want}")
        if len(got) != f.quarantined:
            problems.append(f"{f.name}: the quarantine file holds {len(got)} rows, the report {f.quarantined}")
    counts = {
        "products": "MATCH (p:Product) RETURN count(p) AS n",
        "orders": "MATCH (o:Order) RETURN count(o) AS n",
        "order_items": "MATCH (:Order)-[r:CONTAINS]->() RETURN count(r) AS n",
        "bundles": "MATCH (b:Bundle) RETURN count(b) AS n",
        "bundle_items": "MATCH (:Bundle)-[r:INCLUDES]->() RETURN count(r) AS n",
    }
    for f in report.files:  # accepted rows are in the graph exactly once
        if f.name in counts and (n := conn.count(counts[f.name])) != f.accepted - f.merged:
            problems.append(f"{f.name}: {n} in the graph, {f.accepted - f.merged} accepted")
    missing = set(case.accepted) - {f.name for f in report.files}
    if missing:
        problems.append(f"files not reported: {sorted(missing)}")
    for query, expected in case.graph.items():
        rows = conn.read(query)
        value = rows[0]["v"] if rows else None
        if value != expected:
            problems.append(f"{query!r} gave {value!r}, expected {expected!r}")
    return problems


# -- faults ---------------------------------------------------------------------------------------

KGREC = str(Path(sys.executable).with_name("kgrec"))


def sample_slice(folder: Path, first: int, last: int) -> Path:
    """Orders ``first:last`` of the demo sample (file order) with their items, all products and users."""
    folder.mkdir(parents=True, exist_ok=True)
    orders = pd.read_csv(SAMPLE_DIR / "orders.csv", dtype=str, keep_default_na=False).iloc[first:last]
    items = pd.read_csv(SAMPLE_DIR / "order_items.csv", dtype=str, keep_default_na=False)
    items = items[items["order_id"].isin(set(orders["order_id"]))]
    for name, frame in (("orders", orders), ("order_items", items)):
        frame.to_csv(folder / f"{name}.csv", index=False, lineterminator="\n")
    for name in ("products", "users"):
        (folder / f"{name}.csv").write_bytes((SAMPLE_DIR / f"{name}.csv").read_bytes())
    return folder


def cli_env(creds: Neo4jCredentials, state: Path) -> dict[str, str]:
    """Environment for a ``kgrec`` child process pointed at ``creds``' server."""
    return {
        **os.environ,
        "KGREC_NEO4J_URI": creds.uri,
        "KGREC_NEO4J_PASSWORD": creds.password,
        "KGREC_STATE_DIR": str(state),
        "COLUMNS": "200",
    }


@dataclass
class KillOutcome:
    """A kill-mid-ingest run: the clean, interrupted and re-run fingerprints and what the user saw."""

    clean: Fingerprint
    partial: Fingerprint
    rerun: Fingerprint
    returncode: int
    output: str
    seconds_to_message: float
    rerun_returncode: int

    @property
    def identical(self) -> bool:
        return self.rerun == self.clean


def kill_mid_ingest(
    conn: GraphConnection, server: LocalNeo4j, creds: Neo4jCredentials, folder: Path, work: Path, batch: int = 500
) -> KillOutcome:
    """Ingest ``folder`` cleanly (fingerprint), empty the graph, start ``kgrec ingest`` in a child, SIGKILL
    the server once orders are being written, restart it, re-run the same ingest, fingerprint again."""
    command = [KGREC, "ingest", str(folder), "--write-batch-size", str(batch)]
    ingest_source(conn, folder, write_batch_size=batch)
    clean = fingerprint(conn)
    conn.clear()
    child = subprocess.Popen(
        command, env=cli_env(creds, work / "state"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and child.poll() is None:
            if conn.count("MATCH (o:Order) RETURN count(o) AS n") > 0:
                break
            time.sleep(0.2)
        if child.poll() is not None:
            raise RuntimeError("the ingest finished before the server could be killed")
        pid = server.status().pid
        if pid is None:
            raise RuntimeError("the server has no pid: not a local server")
        os.killpg(pid, signal.SIGKILL)
        killed = time.monotonic()
        output, _ = child.communicate(timeout=240)
        seconds = time.monotonic() - killed
    finally:
        if child.poll() is None:
            child.kill()
        server.start()  # recovery after the kill
    partial = fingerprint(conn)
    again = subprocess.run(command, env=cli_env(creds, work / "state"), capture_output=True, text=True, timeout=900)
    return KillOutcome(clean, partial, fingerprint(conn), child.returncode, output, seconds, again.returncode)

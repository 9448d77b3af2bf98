"""The HTTP API under hostile and heavy use, shared by the reliability tests and ``bench/reliability.py``.

* :func:`served`: ``kgrec serve`` as a child process (the real command, a real checkpoint, a real
  Neo4j), waited on until ``/health`` says the model is loaded, terminated afterwards.
* :func:`fuzz_api`: schemathesis over the served OpenAPI schema, every operation, schema-valid
  (positive) and schema-violating (negative) requests, with the bearer token set so the routes run
  instead of answering 401. Any response >= 500 or a dropped connection is a server error.
* :func:`load_while`: ``concurrency`` clients send a mix of valid requests until a condition holds
  (e.g. an ingest finished) and a minimum time passed; every answer must be 200.
* :func:`landed`: did every row of a newly ingested order file end in the graph exactly once?
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from kgrec.kg.connection import GraphConnection
from tests.reliability.harness import KGREC

#: A request of the load mix: method, path, JSON body.
Request = tuple[str, str, dict[str, Any] | None]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(env: dict[str, str], checkpoint: Path, token: str, log: Path, refresh_s: float = 5.0,
           workers: int = 1) -> Iterator[str]:  # fmt: skip
    """``kgrec serve`` (``workers`` processes) on a free loopback port with ``checkpoint`` and ``--token``;
    yields its base URL once the model is loaded. Its output goes to ``log``; it is terminated (then
    killed) on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [KGREC, "serve", "--port", str(port), "--checkpoint", str(checkpoint), "--token", token,
               "--refresh-s", str(refresh_s), "--no-bundle-gnn", "--workers", str(workers)]  # fmt: skip
    with log.open("w") as out:
        child = subprocess.Popen(command, env={**env, "KGREC_API_TOKEN": ""}, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_loaded(base, child, timeout_s=600, in_a_row=1 if workers == 1 else 20)
            yield base
        finally:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(30)


def wait_loaded(base: str, child: subprocess.Popen[bytes], timeout_s: float, in_a_row: int = 1) -> None:
    """Until ``/health`` (a new connection each time: any worker process may answer) reports the model
    loaded ``in_a_row`` times running; raises if the server exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"kgrec serve exited with {child.returncode} before loading its model")
        loaded = False
        with suppress(httpx.HTTPError, ValueError):
            loaded = bool(httpx.get(f"{base}/health", timeout=5).json().get("model_loaded"))
        streak = streak + 1 if loaded else 0
        if streak >= in_a_row:
            return
        time.sleep(0.5 if not loaded else 0.02)
    raise RuntimeError(f"kgrec serve did not load its model within {timeout_s} s")


# -- fuzzing ----------------------------------------------------------------------------------------


@dataclass
class FuzzReport:
    """What the fuzzer sent and what came back: counts per operation and status, and every server error."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def unauthorised(self) -> int:
        return self.statuses[401]


#: Request fields holding ids, and which kind of known id replaces them in the "known ids" pass.
ID_FIELDS = {"user_id": "users", "user_ids": "users", "product_id": "products", "product_ids": "products",
             "anchor_product_id": "products", "id": "products"}  # fmt: skip


@dataclass(frozen=True)
class Known:
    """Ids the graph holds: users with orders and products they bought."""

    users: list[str]
    products: list[str]

    def replace(self, name: str, value: Any) -> Any:
        """``value`` with each id swapped for a known one of the field's kind (picked by a crc of the value)."""
        kind = ID_FIELDS.get(name)
        if kind is None or value is None:
            return value
        ids = self.users if kind == "users" else self.products
        if isinstance(value, list):
            return [ids[zlib.crc32(repr((i, v)).encode()) % len(ids)] for i, v in enumerate(value)]
        return ids[zlib.crc32(repr(value).encode()) % len(ids)]

    def patch(self, case: Any) -> Any:
        """The generated case with the ids of its path, query and JSON body replaced by known ones."""
        for where in (case.path_parameters, case.query, case.body):
            if isinstance(where, dict):
                for name in where:
                    where[name] = self.replace(name, where[name])
        return case


def fuzz_api(
    base: str,
    token: str,
    known: Known | None = None,
    max_examples: int = 25,
    max_seconds: float = 120.0,
    seed: int = 42,
) -> FuzzReport:
    """Schemathesis over ``base``'s OpenAPI schema: for every operation, up to ``max_examples`` positive
    and as many negative cases (hypothesis, seeded), all sent with the bearer token, until
    ``max_seconds`` have passed. Each response >= 500 and each transport error is a server error.

    ``known``: a third, positive pass per operation whose id fields (path, query and body: see
    :data:`ID_FIELDS`) are swapped for ids the graph holds, so the model routes answer with data
    (random ids mostly answer 404) while every other value (k, prices, flags...) is still generated."""
    import hypothesis
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json", headers={"Authorization": f"Bearer {token}"})
    report = FuzzReport()
    started = time.monotonic()
    deadline = started + max_seconds
    headers = {"Authorization": f"Bearer {token}"}
    session = requests.Session()
    config = hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )

    def sender(label: str) -> Callable[[schemathesis.Case], None]:
        def send(case: schemathesis.Case) -> None:
            if time.monotonic() > deadline:
                return
            report.cases += 1
            report.per_operation[label] += 1
            try:
                response = case.call(base_url=base, session=session, headers=headers, timeout=60)
            except requests.RequestException as error:
                report.server_errors.append(f"{label}: {type(error).__name__} for {_describe(case)}")
                return
            report.statuses[response.status_code] += 1
            if response.status_code >= 500:
                report.server_errors.append(f"{label}: {response.status_code} {response.text[:300]} for {_describe(case)}")  # fmt: skip

        return send

    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"the served OpenAPI schema has an invalid operation: {result.err()}")
        operation = result.ok()
        passes = [(mode.value, operation.as_strategy(generation_mode=mode)) for mode in GenerationMode]
        if known is not None:
            passes.append(
                ("known ids", operation.as_strategy(generation_mode=GenerationMode.POSITIVE).map(known.patch))
            )
        for mode, strategy in passes:
            label = f"{operation.method.upper()} {operation.path} ({mode})"
            try:
                config(hypothesis.seed(seed)(hypothesis.given(case=strategy)(sender(label))))()
            except hypothesis.errors.Unsatisfiable:  # no way to violate this operation's schema (no parameters)
                continue
    report.seconds = time.monotonic() - started
    return report


def _describe(case: Any) -> str:
    parts = {
        "path": case.path_parameters,
        "query": case.query,
        "body": case.body if not isinstance(case.body, bytes) else case.body[:200],
    }
    return json.dumps({k: v for k, v in parts.items() if v}, default=repr)[:500]


# -- load with writes -------------------------------------------------------------------------------


@dataclass
class LoadReport:
    """Requests sent, the ones that did not answer 200, latencies and wall time."""

    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    seconds: float
    statuses: Counter[str]
    examples: list[str]


def request_mix(users: list[str], products: list[str], seed: int = 0) -> Callable[[], Request]:
    """A seeded mix of valid requests over known users and products (each must answer 200)."""
    rng = np.random.default_rng(seed)

    def user() -> str:
        return users[int(rng.integers(len(users)))]

    def product() -> str:
        return products[int(rng.integers(len(products)))]

    makers: list[Callable[[], Request]] = [
        lambda: ("GET", f"/users/{user()}/recommendations?k=10&explain=false", None),
        lambda: ("GET", f"/users/{user()}/recommendations?k=10", None),
        lambda: ("GET", f"/explain?user_id={user()}&product_id={product()}", None),
        lambda: ("GET", f"/products/{product()}/similar?k=10", None),
        lambda: ("POST", "/basket/complete", {"product_ids": [product(), product()], "k": 10}),
        lambda: ("GET", f"/products/{product()}", None),
        lambda: ("GET", f"/users/{user()}/history?k=20", None),
        lambda: ("GET", "/products/popular?k=10", None),
    ]
    lock = threading.Lock()

    def make() -> Request:
        with lock:
            return makers[int(rng.integers(len(makers)))]()

    return make


def load_while(
    base: str,
    token: str,
    make: Callable[[], Request],
    busy: Callable[[], bool],
    concurrency: int = 16,
    min_seconds: float = 0.0,
    max_seconds: float = 900.0,
) -> LoadReport:
    """``concurrency`` threads send ``make()`` requests while ``busy()`` is true or ``min_seconds`` have not
    passed (never past ``max_seconds``). Anything but a 200 (or a transport error) is an error."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    examples: list[str] = []
    lock = threading.Lock()
    started = time.monotonic()

    def going() -> bool:
        elapsed = time.monotonic() - started
        return elapsed < max_seconds and (elapsed < min_seconds or busy())

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            while going():
                method, path, body = make()
                t0 = time.perf_counter()
                try:
                    status = str(client.request(method, path, json=body).status_code)
                except httpx.HTTPError as error:
                    status = type(error).__name__
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(ms)
                    statuses[status] += 1
                    if status != "200" and len(examples) < 20:
                        examples.append(f"{method} {path} {body or ''} -> {status}")

    threads = [threading.Thread(target=worker, name=f"load-{i}") for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - started
    errors = sum(n for status, n in statuses.items() if status != "200")
    p50, p99 = (float(np.percentile(latencies, q)) for q in (50, 99)) if latencies else (float("nan"),) * 2
    return LoadReport(len(latencies), errors, p50, p99, seconds, statuses, examples)


@dataclass
class Landed:
    """Rows of a new order file: read, accepted, quarantined, and how many of them the graph holds."""

    read: int
    accepted: int
    quarantined: int
    merged: int  # accepted duplicates of another row of the file (the graph holds them once)
    in_graph: int

    @property
    def lost(self) -> int:
        """Rows neither in the graph exactly once nor quarantined (0 when nothing was lost)."""
        return abs(self.read - self.accepted - self.quarantined) + abs(self.accepted - self.merged - self.in_graph)


def in_graph(conn: GraphConnection, folder: Path) -> dict[str, int]:
    """How many of the canonical ``folder``'s orders (by id) and order lines ((order)-[:CONTAINS]->(product)
    pairs) the graph holds; a duplicate in the graph would count twice."""
    ids = sorted(set(pd.read_csv(folder / "orders.csv", dtype=str, keep_default_na=False)["order_id"]))
    return {
        "orders": conn.count("MATCH (o:Order) WHERE o.id IN $ids RETURN count(o) AS n", {"ids": ids}),
        "order_items": conn.count(
            "MATCH (o:Order)-[r:CONTAINS]->(:Product) WHERE o.id IN $ids RETURN count(r) AS n", {"ids": ids}
        ),
    }


def landed(conn: GraphConnection, folder: Path, report: dict[str, Any]) -> dict[str, Landed]:
    """``orders`` and ``order_items`` of the canonical ``folder`` just ingested (``report``: the
    ``kgrec ingest --json`` report): rows read, accepted, quarantined and held by the graph."""
    files = {f["name"]: f for f in report["files"]}
    held = in_graph(conn, folder)
    out = {}
    for name in ("orders", "order_items"):
        rows = len(pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False))
        f = files[name]
        if f["read"] != rows:
            raise AssertionError(f"{name}: the report read {f['read']} rows, the file has {rows}")
        out[name] = Landed(f["read"], f["accepted"], f["quarantined"], f["merged"], held[name])
    return out


def known_ids(conn: GraphConnection, limit: int = 50) -> Known:
    """Users who placed orders and products in their orders (ids sorted: the same on every run)."""
    users = conn.read("MATCH (u:User)-[:PLACED]->() RETURN DISTINCT u.id AS id ORDER BY id LIMIT $n", {"n": limit})
    products = conn.read(
        "MATCH (:Order)-[:CONTAINS]->(p:Product) RETURN DISTINCT p.id AS id ORDER BY id LIMIT $n", {"n": limit}
    )
    return Known([r["id"] for r in users], [r["id"] for r in products])

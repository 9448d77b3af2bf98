"""HTTP latency of ``kgrec serve`` on loopback under wrk, a load generator written in C.

The server runs as a subprocess (``kgrec serve --refresh-s 0 --workers 2``: a process per core)
over the demo graph on the bench server with the KGCF trained on it (``bench.serving_setup``); the
benchmark waits until the model and the path index (page explanations in memory) are loaded. For each endpoint and each
concurrency (1 and 16 connections), wrk (``-t1 -c<concurrency>``, ``bench/wrk/requests.lua``)
runs ``warmup_s`` seconds (which also measures the rate), then long enough for about ``requests``
requests (``requests / rate`` seconds, at most ``max_seconds``: wrk stops on time, not on a count);
users and products are drawn with ``seed`` from the served index (users with purchases).
Reported per endpoint and concurrency: ``p50_ms``, ``p99_ms`` (wrk's latency histogram), ``rps``
and ``errors`` (non-2xx answers and socket errors). wrk is Debian's ``wrk`` package
(``make bench-tools`` installs it as root); a Python client on the same two cores took a core of
its own and inflated every latency at 16 connections.

=====================  =====================================================================
endpoint               request
=====================  =====================================================================
recommend              GET /users/{u}/recommendations?k=10&explain=false
recommend-explained    GET /users/{u}/recommendations?k=10  (reasons for every item: the default)
explain                GET /explain?user_id={u}&product_id={p}
similar                GET /products/{p}/similar?k=10
basket-complete        POST /basket/complete {"product_ids": [p, q], "k": 10}
=====================  =====================================================================

    python -m bench.latency_http
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench.common import ROOT, Result, run, write_results
from bench.serving_setup import KGREC, demo_environment
from kgrec.serving import cache_path
from kgrec.serving.index import ServingIndex

Request = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body
WRK_SCRIPT = ROOT / "bench" / "wrk" / "requests.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, timeout_s: float, field: str = "model_loaded", in_a_row: int = 1) -> float:
    """Seconds until /health reports ``field`` true ``in_a_row`` times running (several worker
    processes answer in turn; raises after ``timeout_s``)."""
    t0 = time.perf_counter()
    streak = 0
    while time.perf_counter() - t0 < timeout_s:
        try:
            streak = streak + 1 if httpx.get(f"{base}/health", timeout=2).json().get(field) else 0
        except (httpx.HTTPError, ValueError):
            streak = 0
        if streak >= in_a_row:
            return time.perf_counter() - t0
        time.sleep(0.2 if streak == 0 else 0.02)
    raise RuntimeError(f"kgrec serve did not report {field} within {timeout_s} s")


def request_makers(index: ServingIndex, rng: np.random.Generator) -> dict[str, Callable[[], Request]]:
    users = [u for i, u in enumerate(index.user_ids) if index.hist_indptr[i + 1] > index.hist_indptr[i]]
    popular = np.argsort(-index.buyers)[:500]
    products = [index.product_ids[i] for i in popular]

    def user() -> str:
        return users[int(rng.integers(len(users)))]

    def product() -> str:
        return products[int(rng.integers(len(products)))]

    return {
        "recommend": lambda: ("GET", f"/users/{user()}/recommendations?k=10&explain=false", None),
        "recommend-explained": lambda: ("GET", f"/users/{user()}/recommendations?k=10", None),
        "explain": lambda: ("GET", f"/explain?user_id={user()}&product_id={product()}", None),
        "similar": lambda: ("GET", f"/products/{product()}/similar?k=10", None),
        "basket-complete": lambda: ("POST", "/basket/complete", {"product_ids": [product(), product()], "k": 10}),
    }


def wrk_run(base: str, make: Callable[[], Request], count: int, concurrency: int, seconds: int) -> dict[str, float]:  # fmt: skip
    """wrk over ``concurrency`` connections for ``seconds``, cycling ``count`` drawn requests."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run `make bench-tools` as root (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        requests, summary = Path(tmp) / "requests.tsv", Path(tmp) / "summary.json"
        lines = []
        for _ in range(count):
            method, path, body = make()
            lines.append(f"{method}\t{path}\t{json.dumps(body, separators=(',', ':')) if body else ''}")
        requests.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env = {**os.environ, "KGREC_WRK_REQUESTS": str(requests), "KGREC_WRK_OUT": str(summary)}
        command = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "-s", str(WRK_SCRIPT), base]
        subprocess.run(command, env=env, check=True, capture_output=True)
        s = json.loads(summary.read_text(encoding="utf-8"))
    return {
        "p50_ms": s["p50_us"] / 1000,
        "p99_ms": s["p99_us"] / 1000,
        "rps": s["requests"] / max(s["duration_us"] / 1e6, 1e-9),
        "errors": float(s["status_errors"] + s["socket_errors"]),
        "requests": float(s["requests"]),
    }


def wrk_load(base: str, make: Callable[[], Request], count: int, concurrency: int, max_seconds: float,
             warmup_s: int) -> dict[str, float]:  # fmt: skip
    """About ``count`` requests (at most ``max_seconds``) after a ``warmup_s`` warm-up that also
    measures the rate, so the measured run lasts ``count / rate`` seconds (wrk stops on time)."""
    warm = wrk_run(base, make, count, concurrency, warmup_s)
    seconds = int(min(max_seconds, max(3.0, np.ceil(count / max(warm["rps"], 1e-9)))))
    return wrk_run(base, make, count, concurrency, seconds)


def main(requests: int = 3000, warmup_s: int = 3, max_seconds: float = 30.0, seed: int = 42,
         concurrency: tuple[int, int] = (1, 16), workers: int = 2) -> None:  # fmt: skip
    """Start kgrec serve on the demo graph and load every endpoint at each concurrency."""
    env, checkpoint = demo_environment()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve_env = {**env, "KGREC_API_TOKEN": ""}
    server = subprocess.Popen(
        [KGREC, "serve", "--port", str(port), "--checkpoint", str(checkpoint), "--refresh-s", "0", "--no-bundle-gnn",
         "--workers", str(workers)],
        env=serve_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ready_s = wait_ready(base, 600)
        wait_ready(base, 600, "path_index_loaded", in_a_row=10 * workers)
        index = ServingIndex.load(cache_path(checkpoint, env["KGREC_NEO4J_URI"]))
        assert index is not None
        makers = request_makers(index, np.random.default_rng(seed))
        results = [Result("serve", "start", "model_loaded_s", ready_s)]
        for c in concurrency:
            for name, make in makers.items():
                stats = wrk_load(base, make, requests, c, max_seconds, warmup_s)
                results += [
                    Result(name, f"c{c}", m, stats[m]) for m in ("p50_ms", "p99_ms", "rps", "errors", "requests")
                ]
    finally:
        server.terminate()
        server.wait(30)
    write_results(
        "latency-http", "demo sample (Online Retail, 300 customers) on the bench server", results, seeds=[seed],
        config={"requests": requests, "warmup_s": warmup_s, "max_seconds": max_seconds, "concurrency": list(concurrency),
                "server": f"kgrec serve --workers {workers} (uvicorn with uvloop + httptools; memory-only routes on "
                          "the event loop, database routes on the thread pool)",
                "load_generator": "wrk -t1 -c<concurrency> (bench/wrk/requests.lua)",
                "load_average_1m_at_end": os.getloadavg()[0]},
    )  # fmt: skip


if __name__ == "__main__":
    run(main)

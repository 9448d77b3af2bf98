"""HTTP latency of ``kgrec serve`` on loopback under a small asyncio + httpx load generator.

The server runs as a subprocess (``kgrec serve --refresh-s 0``) over the demo graph on the bench
server with the KGCF trained on it (``bench.serving_setup``). For each endpoint and each
concurrency (1 and 16 clients), after ``warmup`` requests, ``requests`` requests are sent (bounded
by ``max_seconds`` as well); users and products are drawn with ``seed`` from the served index
(users with purchases). Reported per endpoint and concurrency: ``p50_ms``, ``p99_ms``, ``rps`` and
``errors`` (non-2xx answers and transport errors).

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

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from bench.common import ROOT, Result, run, write_results
from bench.serving_setup import KGREC, demo_environment
from kgrec.serving import cache_path
from kgrec.serving.index import ServingIndex

Request = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, timeout_s: float) -> float:
    """Seconds until /health reports the model loaded (raises after ``timeout_s``)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout_s:
        try:
            if httpx.get(f"{base}/health", timeout=2).json().get("model_loaded"):
                return time.perf_counter() - t0
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"kgrec serve did not load its model within {timeout_s} s")


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


async def load(base: str, make: Callable[[], Request], count: int, concurrency: int, max_seconds: float) -> dict[str, float]:  # fmt: skip
    """``count`` requests from ``concurrency`` clients (stopping at ``max_seconds``): latencies, rps, errors."""
    latencies: list[float] = []
    errors = 0
    queue = [make() for _ in range(count)]
    deadline = time.perf_counter() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors
            while queue and time.perf_counter() < deadline:
                method, path, body = queue.pop()
                t0 = time.perf_counter()
                try:
                    response = await client.request(method, path, json=body)
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "rps": len(latencies) / wall,
        "errors": float(errors),
        "requests": float(len(latencies)),
    }


def main(requests: int = 300, warmup: int = 30, max_seconds: float = 60.0, seed: int = 42,
         concurrency: tuple[int, int] = (1, 16)) -> None:  # fmt: skip
    """Start kgrec serve on the demo graph and load every endpoint at each concurrency."""
    env, checkpoint = demo_environment()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve_env = {**env, "KGREC_API_TOKEN": ""}
    server = subprocess.Popen(
        [KGREC, "serve", "--port", str(port), "--checkpoint", str(checkpoint), "--refresh-s", "0", "--no-bundle-gnn"],
        env=serve_env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ready_s = wait_ready(base, 600)
        index = ServingIndex.load(cache_path(checkpoint, env["KGREC_NEO4J_URI"]))
        assert index is not None
        makers = request_makers(index, np.random.default_rng(seed))
        results = [Result("serve", "start", "model_loaded_s", ready_s)]
        for c in concurrency:
            for name, make in makers.items():
                asyncio.run(load(base, make, warmup, c, max_seconds))
                stats = asyncio.run(load(base, make, requests, c, max_seconds))
                results += [Result(name, f"c{c}", m, stats[m]) for m in ("p50_ms", "p99_ms", "rps", "errors")]
    finally:
        server.terminate()
        server.wait(30)
    write_results(
        "latency-http", "demo sample (Online Retail, 300 customers) on the bench server", results, seeds=[seed],
        config={"requests": requests, "warmup": warmup, "max_seconds": max_seconds, "concurrency": list(concurrency),
                "server": "kgrec serve (uvicorn, 1 process, sync routes on the worker pool)",
                "load_average_1m_at_end": os.getloadavg()[0]},
    )  # fmt: skip


if __name__ == "__main__":
    run(main)

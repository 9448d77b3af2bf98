"""In-process latency of ``Serving.recommend(user, k=20)``: one matrix-vector product and a partial sort.

Two indexes:

* ``demo`` — the KGCF served on the demo sample (3,005 products; fused GNN + EASE + trend), loaded
  from its serving cache (``bench.serving_setup``: the bench server, the model trained on it);
* ``amazon-book`` — Amazon-Book's 24,915 products and 70,679 users with their training purchases
  (``amazon-book-kgat/train.txt``) and random 64-dimensional embeddings (seeded): the latency is about
  top-k over 24,915 items with the purchases masked, not about accuracy. Fusion: z-scored GNN part
  and trend; no EASE (its dense 24,915² matrix would take 2.5 GB).

Each model: ``warmup`` calls, then ``calls`` timed calls over users drawn with ``seed`` (p50, p99).

    python -m bench.latency_recommend
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.common import SHARED_DATA, Result, run, write_results
from kgrec.serving import Serving
from kgrec.serving.index import Neighbours, ServingIndex, csr, z_score


def amazon_book_index(path: Path, dim: int = 64, seed: int = 42) -> ServingIndex:
    """A serving index over Amazon-Book's training purchases with random embeddings."""
    users: list[str] = []
    hist: list[list[int]] = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            users.append(parts[0])
            hist.append(sorted({int(x) for x in parts[1:]}))
    n_items = max(max(h) for h in hist if h) + 1
    rng = np.random.default_rng(seed)
    ptr, idx = csr(hist)
    popularity = np.bincount(idx, minlength=n_items).astype(np.float32)
    empty = np.zeros(0, np.int64)
    return ServingIndex(
        model="random", checkpoint="amazon-book", product_ids=[str(i) for i in range(n_items)],
        titles=[None] * n_items, prices=np.full(n_items, np.nan), in_stock=np.ones(n_items, bool),
        item_emb=rng.normal(size=(n_items, dim)).astype(np.float32), known_item=np.ones(n_items, bool),
        text=np.zeros((n_items, 0), np.float32), user_ids=users,
        user_emb=rng.normal(size=(len(users), dim)).astype(np.float32), hist_indptr=ptr, hist_indices=idx,
        basis=np.diff(ptr), ease=None, trend_term=z_score(np.log1p(popularity)).astype(np.float32),
        gnn_weight=1.0, fuse_weight=0.0, fused=True,
        neighbours=Neighbours(np.zeros(n_items + 1, np.int64), empty, np.zeros(0, np.float32),
                              np.zeros(0, np.float32), empty),
        category_names=[], cat_indptr=np.zeros(n_items + 1, np.int64), cat_indices=empty,
        direct_indptr=np.zeros(n_items + 1, np.int64), direct_indices=empty, newest_order=0, order_count=0,
    )  # fmt: skip


def demo_index() -> ServingIndex:
    """The demo model's serving index over the bench server's demo graph (built and cached on first use)."""
    from bench.serving_setup import demo_environment, settings_for
    from kgrec.kg.connection import GraphConnection

    env, checkpoint = demo_environment()
    with GraphConnection(settings_for(env).credentials()) as conn:
        serving = Serving(lambda: conn, checkpoint)
        serving.load()
    assert serving.index is not None
    return serving.index


def measure(index: ServingIndex, calls: int, warmup: int, k: int, seed: int) -> tuple[float, float]:
    """(p50 ms, p99 ms) of ``Serving.recommend(user, k)`` over users drawn with ``seed``."""
    serving = Serving(lambda: None, None)  # type: ignore[arg-type,return-value]  # memory only: no graph
    serving.index = index
    users = np.random.default_rng(seed).choice(len(index.user_ids), warmup + calls)
    times = []
    for n, u in enumerate(users):
        t0 = time.perf_counter()
        page = serving.recommend(index.user_ids[u], k)
        elapsed = time.perf_counter() - t0
        assert len(page.items) == k or page.note
        if n >= warmup:
            times.append(elapsed * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main(calls: int = 2000, warmup: int = 100, k: int = 20, seed: int = 42, dim: int = 64) -> None:
    """Time recommend(k) in process on the demo model and on an Amazon-Book-sized index."""
    results = []
    indexes = {
        "demo": demo_index(),
        "amazon-book": amazon_book_index(SHARED_DATA / "amazon-book-kgat" / "train.txt", dim, seed),
    }
    for name, index in indexes.items():
        p50, p99 = measure(index, calls, warmup, k, seed)
        results += [Result(name, f"k{k}", "p50_ms", p50), Result(name, f"k{k}", "p99_ms", p99)]
        results.append(Result(name, f"k{k}", "products", float(index.num_products)))
    write_results(
        "latency-recommend", "demo sample (bench server) + amazon-book-kgat train.txt", results, seeds=[seed],
        config={"calls": calls, "warmup": warmup, "k": k, "dim_amazon_book": dim},
    )  # fmt: skip


if __name__ == "__main__":
    run(main)

"""Online Retail: rank all products for each customer, temporal split, the whole pipeline.

    .venv/bin/python -m bench.rank_online_retail                          # the reported run
    .venv/bin/python -m bench.rank_online_retail --reuse-snapshot --models popularity --out /tmp

Reads the full UCI file with ``ingest.sources.online_retail``, ingests it into the one benchmark
Neo4j (``bench.common.connect_bench_graph``: never run it together with the ingest benchmark,
which wipes that graph), writes MiniLM text embeddings on the products (``kg.embeddings``),
exports the graph (``kg.export``) and splits it in time (``gnn.data``, temporal: the last 10% of
orders are test, the 10% before valid; targets are new user→product pairs). ``--reuse-snapshot``
skips Neo4j and loads the exported snapshot cached by a previous run. Every model is built by
name through ``gnn.registry.model_for_data``; trainable ones (``hetero_sage``, ``lightgcn``) use
``gnn.train.train_model`` with early stopping on validation Recall@20; baselines are fitted on
train. All are evaluated with full ranking (``gnn.evaluate``), training positives masked (and
validation positives for test).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import time
from pathlib import Path

import torch

from bench.common import CACHE as CACHE_DIR
from bench.common import RESULTS, SHARED_DATA, Result, merged, run, write_results
from kgrec.gnn.evaluate import RankingReport, evaluate
from kgrec.kg.export import GraphSnapshot

CACHE = CACHE_DIR / "online-retail-snapshot.pkl"
REPORTED = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr")


def other_bench_running() -> str | None:
    """The command line of another benchmark that uses the bench server, if one runs."""
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if (
            pid != str(os.getpid())
            and "bench" in args
            and ("ingest_online_retail" in args or "basket_online_retail" in args)
        ):
            return args
    return None


def build_snapshot() -> GraphSnapshot:
    """Ingest → embed → export through Neo4j; cached to ``CACHE``."""
    from bench.common import connect_bench_graph
    from kgrec.ingest.pipeline import ingest_tables
    from kgrec.ingest.sources.online_retail import read_online_retail
    from kgrec.kg.embeddings import embed_products
    from kgrec.kg.export import export_graph

    busy = other_bench_running()
    if busy:
        raise SystemExit(f"another benchmark uses the bench Neo4j ({busy}); wait for it to finish")
    t0 = time.perf_counter()
    tables = read_online_retail(SHARED_DATA / "online-retail")
    conn = connect_bench_graph(clear=False)
    conn.execute("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS")
    conn.clear()
    report = ingest_tables(conn, tables, source="online-retail", copurchase=False)
    print(f"ingested in {report.seconds:.0f}s; embedding products", flush=True)
    print(embed_products(conn), flush=True)
    snapshot = export_graph(conn)
    conn.close()
    print(f"snapshot {snapshot.summary()} in {time.perf_counter() - t0:.0f}s", flush=True)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps(snapshot))
    return snapshot


def rows(model: str, report: RankingReport) -> list[Result]:
    return [Result(model, report.split, m, report[m]) for m in REPORTED] + [
        Result(model, report.split, "eval_s", report.eval_s)
    ]


def main(
    models: str = "popularity,itemknn,text,ease,lightgcn,hetero_sage",
    reuse_snapshot: bool = False,
    epochs: int = 25,
    patience: int = 4,
    batch_size: int = 8192,
    lr: float = 0.02,
    seed: int = 42,
    threads: int = 1,
    merge: bool = False,
    out: Path = RESULTS,
) -> None:
    """Every model on the temporal split; writes <out>/rank-online-retail.json after each model."""
    config_record = dict(locals())
    from kgrec.gnn.data import DataConfig, prepare_data
    from kgrec.gnn.registry import model_for_data
    from kgrec.gnn.train import TrainConfig, train_model

    torch.set_num_threads(threads)
    snapshot = pickle.loads(CACHE.read_bytes()) if reuse_snapshot and CACHE.exists() else build_snapshot()
    prepared = prepare_data(snapshot, DataConfig(split="temporal", seed=seed))
    split = prepared.split
    print(
        f"split: train {split.train.num_edges} valid {split.valid.num_edges} test "
        f"{split.test.num_edges} pairs; {split.train.num_users} users x {split.train.num_items} "
        f"products; {prepared.stats}",
        flush=True,
    )
    names = models.split(",")
    schedule = TrainConfig(
        epochs=epochs, patience=patience, batch_size=batch_size, lr=lr, seed=seed, device="cpu", progress=False
    )
    results: list[Result] = []
    for name in names:
        t0 = time.perf_counter()
        model = model_for_data(name, prepared)
        if model.trainable:
            hist = train_model(model, split, schedule)
            results += [
                Result(name, "test", "best_epoch", float(hist.best_epoch)),
                Result(name, "test", "epochs", float(len(hist.history))),
                Result(name, "test", "epoch_s", hist.epoch_seconds),
            ]
        fit_s = time.perf_counter() - t0
        valid, test = evaluate(model, split, "valid"), evaluate(model, split, "test")
        results += rows(name, valid) + rows(name, test)
        results.append(Result(name, "test", "fit_s", fit_s))
        print(f"{name}: {valid.summary()} | {test.summary()}", flush=True)
        write_results(
            "rank-online-retail",
            "UCI Online Retail (full, temporal split)",
            merged(results, names, out / "rank-online-retail.json") if merge else results,
            seeds=[seed],
            threads=threads,
            config=config_record,
            out_dir=out,
        )


if __name__ == "__main__":
    run(main)

"""Online Retail: rank all products for each customer, temporal split, the whole pipeline.

    .venv/bin/python bench/rank_online_retail.py [--models popularity,itemknn,text,ease,lightgcn,gnn]
                                                 [--reuse-snapshot] [--private-server]

Reads the full UCI file with ``ingest.sources.online_retail``, ingests it into the benchmark
Neo4j (``bench.common.connect_bench_graph``, port 7689: never run it together with the ingest
benchmark, which wipes that graph), writes MiniLM text embeddings on the products
(``kg.embeddings``), exports the graph (``kg.export``) and splits it in time (``gnn.data``,
temporal: the last 10% of orders are test, the 10% before valid; targets are new user→product
pairs). ``--reuse-snapshot`` skips Neo4j and loads the exported snapshot cached by a previous run.
Trainable models (``gnn`` = HeteroSAGE, ``lightgcn``) use ``gnn.train.train_model`` with early
stopping on validation Recall@20; baselines are fitted on train. All are evaluated with full
ranking (``gnn.evaluate``), training positives masked (and validation positives for test).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, ROOT, SHARED_DATA, Result, write_results
from kgrec.gnn.contract import RecModel
from kgrec.gnn.evaluate import RankingReport, evaluate
from kgrec.gnn.models.baselines import EASE, ItemKNN, Popularity, TextSimilarity

CACHE = ROOT / ".kgrec" / "bench-cache" / "online-retail-snapshot.pkl"
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


def private_graph():  # type: ignore[no-untyped-def]
    """A server of this benchmark's own (ports 7703/7503) when the shared bench server is busy."""
    from kgrec.kg.connection import GraphConnection
    from kgrec.kg.local_server import LocalNeo4j, ServerConfig

    server = LocalNeo4j(
        ServerConfig(
            state_dir=ROOT / ".kgrec" / "eval-bench-neo4j", bolt_port=7703, http_port=7503, heap="1g", pagecache="512m"
        )
    )
    server.start()
    return GraphConnection(server.credentials()).connect()


def build_snapshot(private: bool = False):  # type: ignore[no-untyped-def]
    """Ingest → embed → export through Neo4j; cached to ``CACHE``."""
    from bench.common import connect_bench_graph
    from kgrec.ingest.pipeline import ingest_tables
    from kgrec.ingest.sources.online_retail import read_online_retail
    from kgrec.kg.embeddings import embed_products
    from kgrec.kg.export import export_graph

    busy = None if private else other_bench_running()
    if busy:
        raise SystemExit(
            f"another benchmark uses the bench Neo4j ({busy}); wait for it to finish or pass --private-server"
        )
    t0 = time.perf_counter()
    tables = read_online_retail(SHARED_DATA / "online-retail")
    conn = private_graph() if private else connect_bench_graph(clear=False)
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


def merged(results: list[Result], models: list[str]) -> list[Result]:
    """The existing results file's rows of other models (read now) followed by ``results``."""
    path = RESULTS / "rank-online-retail.json"
    old = json.loads(path.read_text())["results"] if path.exists() else []
    return [Result(**r) for r in old if r["model"] not in models] + results


def rows(model: str, report: RankingReport) -> list[Result]:
    return [Result(model, report.split, m, report[m]) for m in REPORTED] + [
        Result(model, report.split, "eval_s", report.eval_s)
    ]


def main() -> None:
    from kgrec.gnn.data import DataConfig, prepare_data
    from kgrec.gnn.train import RunConfig, TrainConfig, build_model_for, train_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="popularity,itemknn,text,ease,lightgcn,gnn")
    ap.add_argument("--reuse-snapshot", action="store_true")
    ap.add_argument(
        "--private-server",
        action="store_true",
        help="ingest into an own Neo4j on ports 7703/7503 instead of the bench server",
    )
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=8192)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--merge", action="store_true", help="keep the other models' rows of an existing results file")
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    snapshot = (
        pickle.loads(CACHE.read_bytes())
        if args.reuse_snapshot and CACHE.exists()
        else build_snapshot(args.private_server)
    )
    prepared = prepare_data(snapshot, DataConfig(split="temporal"))
    split = prepared.split
    print(
        f"split: train {split.train.num_edges} valid {split.valid.num_edges} test "
        f"{split.test.num_edges} pairs; {split.train.num_users} users x {split.train.num_items} "
        f"products; {prepared.stats}",
        flush=True,
    )
    results: list[Result] = []
    for name in args.models.split(","):
        t0 = time.perf_counter()
        epoch_s = None
        if name in ("lightgcn", "gnn"):
            model: RecModel = build_model_for(prepared, RunConfig(model=name))  # type: ignore[arg-type]
            hist = train_model(
                model,
                split,
                TrainConfig(
                    epochs=args.epochs, patience=args.patience, batch_size=args.batch_size, lr=args.lr, progress=False
                ),
            )
            # EpochStats.seconds includes the per-epoch validation ranking
            epoch_s = float(np.mean([e.seconds for e in hist.history]))
            results += [
                Result(name, "test", "best_epoch", float(hist.best_epoch)),
                Result(name, "test", "epochs", float(len(hist.history))),
            ]
        else:
            if name == "text":
                emb = torch.from_numpy(np.asarray(snapshot.product_embeddings, dtype=np.float32))
                model = TextSimilarity(emb)
            else:
                model = {"popularity": Popularity, "itemknn": ItemKNN, "ease": EASE}[name]()
            model.fit(split.train)
        fit_s = time.perf_counter() - t0
        valid, test = evaluate(model, split, "valid"), evaluate(model, split, "test")
        results += rows(name, valid) + rows(name, test)
        results.append(Result(name, "test", "fit_s", fit_s))
        if epoch_s is not None:
            results.append(Result(name, "test", "epoch_s", epoch_s))
        print(f"{name}: {valid.summary()} | {test.summary()}", flush=True)
        write_results(
            "rank-online-retail",
            "UCI Online Retail (full, temporal split)",
            merged(results, args.models.split(",")) if args.merge else results,
        )


if __name__ == "__main__":
    main()

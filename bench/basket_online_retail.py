"""Basket completion on the full UCI Online Retail shop, through ``gnn.baskets``.

The shop is the graph export of the full ingest (``bench.rank_online_retail``'s snapshot: cleaned
invoices, derived categories and attributes, MiniLM vectors), reused from its cache when present
(``--reuse-snapshot``, the default), else ingested through the bench Neo4j server. Protocol of
``gnn.baskets``: orders sorted by time, the last 10% are test baskets and the 10% before
validation; each held-out basket of ≥ 2 products hides a seeded half of them (≥ 1) and every
product is ranked given the rest (context masked); hit@10, recall@10, full-ranking MRR. Every
configuration is measured on ``valid``, the chosen ones once on ``test``. Confidence and lift count
every co-purchased pair (min count 1).

    .venv/bin/python -m bench.basket_online_retail                        # the reported run
    .venv/bin/python -m bench.basket_online_retail --epochs 2 --out /tmp  # smoke run
"""

from __future__ import annotations

import pickle
from pathlib import Path

from bench.common import RESULTS, Result, run, write_results
from bench.sessions_online_retail import report_results, task_config
from kgrec.gnn.baskets import run_basket_task
from kgrec.kg.export import GraphSnapshot

BASKET_MODELS = ("gnn", "confidence", "lift", "itemknn", "ease", "text")


def load_snapshot(reuse_snapshot: bool) -> GraphSnapshot:
    """The full Online Retail snapshot: the cached export, or a fresh ingest through the bench server."""
    from bench.rank_online_retail import CACHE, build_snapshot

    if reuse_snapshot and CACHE.exists():
        snapshot: GraphSnapshot = pickle.loads(CACHE.read_bytes())
        return snapshot
    return build_snapshot()


def main(
    models: str = ",".join(BASKET_MODELS),
    epochs: int = 30,
    dim: int = 64,
    seed: int = 42,
    threads: int = 2,
    reuse_snapshot: bool = True,
    out: Path = RESULTS,
) -> None:
    """Run every model and write <out>/basket-online-retail.json."""
    config_record = dict(locals())
    snapshot = load_snapshot(reuse_snapshot)
    print(f"Online Retail: {snapshot.summary()}", flush=True)
    report = run_basket_task(snapshot, task_config(models, epochs, dim, seed, threads))
    results: list[Result] = report_results(report)
    write_results(
        "basket-online-retail",
        "online-retail",
        results,
        seeds=[seed],
        threads=threads,
        config=config_record,
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

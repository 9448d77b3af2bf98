"""Benchmark: ingest the whole cleaned UCI Online Retail into an empty Neo4j, batched vs naive.

batched: the real pipeline (validate, UNWIND batches, PURCHASED recomputation) on every cleaned
order line; BOUGHT_WITH is timed separately. naive: one transaction per order line (MERGE user,
order, product and CONTAINS) on the first ``--naive-lines`` lines, the way a loop of single
statements would load the file. Run: ``.venv/bin/python -m bench.ingest_online_retail``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.common import RESULTS, SHARED_DATA, Result, connect_bench_graph, run, write_results
from kgrec.ingest.pipeline import ingest_tables
from kgrec.ingest.sources.online_retail import read_online_retail
from kgrec.kg.connection import GraphConnection
from kgrec.kg.copurchase import recompute_bought_with
from kgrec.kg.schema import Label, Rel, ensure_schema

NAIVE_CYPHER = (
    f"MERGE (u:{Label.USER.value} {{id: $user_id}}) "
    f"MERGE (o:{Label.ORDER.value} {{id: $order_id}}) SET o.timestamp = datetime($ts) "
    f"MERGE (u)-[:{Rel.PLACED.value}]->(o) "
    f"MERGE (p:{Label.PRODUCT.value} {{id: $product_id}}) "
    f"MERGE (o)-[c:{Rel.CONTAINS.value}]->(p) SET c.quantity = $quantity, c.price = $price"
)


def wipe(conn: GraphConnection) -> None:
    """Empty the graph: relationships first (dense products would overflow one DETACH DELETE batch)."""
    conn.execute("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS")
    conn.clear()


def naive_lines_per_s(conn: GraphConnection, rows: list[dict[str, object]]) -> float:
    """Order lines per second when every line is its own write transaction."""
    started = time.perf_counter()
    for row in rows:
        conn.write(NAIVE_CYPHER, row)
    return len(rows) / (time.perf_counter() - started)


def main(write_batch_size: int = 10_000, naive_lines: int = 2_000, out: Path = RESULTS) -> None:
    """Ingest the whole cleaned file batched, then ``naive_lines`` lines one transaction each."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    tables = read_online_retail(SHARED_DATA / "online-retail")
    read_s = time.perf_counter() - started
    assert tables.order_items is not None and tables.orders is not None
    lines = len(tables.order_items)

    conn = connect_bench_graph(clear=False)
    wipe(conn)
    ensure_schema(conn)
    report = ingest_tables(
        conn, tables, source="online-retail", write_batch_size=write_batch_size, copurchase=False, progress=True
    )
    batched_s = report.seconds
    started = time.perf_counter()
    copurchase = recompute_bought_with(conn, write_batch_size=write_batch_size)
    copurchase_s = time.perf_counter() - started
    print("steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items()))
    print(
        f"read+clean {read_s:.1f} s; ingest {lines:,} lines in {batched_s:.1f} s; "
        f"BOUGHT_WITH {copurchase.pairs:,} pairs in {copurchase_s:.1f} s; counts add up: {report.adds_up()}"
    )

    wipe(conn)
    ensure_schema(conn)
    timestamps = dict(zip(tables.orders["order_id"], tables.orders["timestamp"], strict=True))
    users = dict(zip(tables.orders["order_id"], tables.orders["user_id"], strict=True))
    sample = tables.order_items.head(naive_lines)
    rows: list[dict[str, object]] = [
        {
            "user_id": users[o],
            "order_id": o,
            "ts": timestamps[o],
            "product_id": p,
            "quantity": int(q),
            "price": float(pr),
        }
        for o, p, q, pr in zip(
            sample["order_id"], sample["product_id"], sample["quantity"], sample["price"], strict=True
        )
    ]
    naive = naive_lines_per_s(conn, rows)
    wipe(conn)
    conn.close()

    batched = lines / batched_s
    write_results(
        "ingest-online-retail",
        "UCI Online Retail (cleaned: order lines with a customer)",
        [
            Result("batched", "all", "lines_per_s", batched),
            Result("batched", "all", "seconds", batched_s),
            Result("batched", "all", "lines", float(lines)),
            Result("batched", "all", "read_clean_seconds", read_s),
            *[Result("batched", "all", "seconds_" + k.replace(" ", "_"), v) for k, v in report.timings.items()],
            Result("copurchase", "all", "seconds", copurchase_s),
            Result("copurchase", "all", "pairs", float(copurchase.pairs)),
            Result("naive", "all", "lines_per_s", naive),
            Result("batched_vs_naive", "all", "speedup", batched / naive),
            Result("batched", "all", "order_items_lines_per_s", lines / report.timings["write order_items"]),
            Result("machine", "all", "load_avg_1min_at_start", load_before),
            Result("machine", "all", "load_avg_1min_at_end", os.getloadavg()[0]),
        ],
        config={"write_batch_size": write_batch_size, "naive_lines": naive_lines},
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

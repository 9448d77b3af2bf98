"""Mined bundles: itemset counting (pure) and idempotent writes to the real graph."""

from __future__ import annotations

import pytest

from kgrec.kg.bundle_mining import MINED_SOURCE, MiningError, mine_bundles, mine_itemsets
from kgrec.kg.connection import GraphConnection

BASKETS = {
    "o1": ["a", "b", "c"],
    "o2": ["a", "b", "c", "x"],
    "o3": ["a", "b", "c"],
    "o4": ["d", "e"],
    "o5": ["d", "e"],
    "o6": ["x", "y"],
    "o7": ["y", "z"],
    "o8": ["a", "x"],
}


def test_pairs_and_triples_with_counts_and_lift() -> None:
    sets = mine_itemsets(BASKETS, min_orders=2, min_lift=1.5)
    by_items = {s.items: s for s in sets}
    assert ("a", "b", "c") in by_items and ("d", "e") in by_items
    abc = by_items[("a", "b", "c")]
    # orders(abc) = 3, N = 8, orders(a) = 4, orders(b) = orders(c) = 3 -> lift = 3 * 64 / 36
    assert abc.orders == 3 and abc.lift == pytest.approx(3 * 64 / 36)
    assert by_items[("d", "e")].lift == pytest.approx(2 * 8 / 4)
    assert ("a", "b") not in by_items  # covered by the triple
    assert sets[0].items == ("a", "b", "c")  # most orders first
    assert all(s.orders >= 2 for s in sets)
    assert abc.bundle_id == "mined:a|b|c"


def test_thresholds_filter_and_validate() -> None:
    assert mine_itemsets(BASKETS, min_orders=4) == []
    pairs_only = mine_itemsets(BASKETS, min_orders=2, min_lift=1.5, max_size=2)
    assert all(len(s.items) == 2 for s in pairs_only) and ("a", "b") in {s.items for s in pairs_only}
    with pytest.raises(MiningError):
        mine_itemsets(BASKETS, max_size=4)


def _load(conn: GraphConnection, baskets: dict[str, list[str]]) -> None:
    products = sorted({p for items in baskets.values() for p in items})
    conn.write("UNWIND $ids AS pid MERGE (:Product {id: pid, title: 'T ' + pid})", {"ids": products})
    conn.write(
        "UNWIND $rows AS r MERGE (o:Order {id: r.o}) WITH o, r UNWIND r.items AS pid "
        "MATCH (p:Product {id: pid}) MERGE (o)-[:CONTAINS]->(p)",
        {"rows": [{"o": o, "items": items} for o, items in baskets.items()]},
    )


def _snapshot(conn: GraphConnection) -> list[tuple]:
    rows = conn.read(
        "MATCH (b:Bundle)-[:INCLUDES]->(p) RETURN b.id AS id, b.source AS s, b.title AS t, "
        "b.orders AS o, collect(p.id) AS items ORDER BY id"
    )
    return [(r["id"], r["s"], r["t"], r["o"], sorted(r["items"])) for r in rows]


@pytest.mark.neo4j
def test_mining_writes_bundles_idempotently(graph: GraphConnection) -> None:
    _load(graph, BASKETS)
    graph.write("CREATE (:Bundle {id: 'youshu:1', source: 'youshu'})")
    first = mine_bundles(graph, min_orders=2, min_lift=1.5)
    snap = _snapshot(graph)
    assert first.baskets == 8 and first.triples == 1 and first.bundles_written == len(snap)
    assert ("mined:a|b|c", MINED_SOURCE, "T a + T b + T c", 3, ["a", "b", "c"]) in snap
    second = mine_bundles(graph, min_orders=2, min_lift=1.5)
    assert _snapshot(graph) == snap and second.bundles_removed == 0
    assert graph.count("MATCH ()-[r:INCLUDES]->() RETURN count(r) AS n") == sum(len(s[4]) for s in snap)
    # stricter thresholds remove the mined bundles that no longer qualify, never other bundles
    third = mine_bundles(graph, min_orders=3, min_lift=1.5)
    assert [s[0] for s in _snapshot(graph)] == ["mined:a|b|c"] and third.bundles_removed == len(snap) - 1
    assert graph.count("MATCH (b:Bundle {source: 'youshu'}) RETURN count(b) AS n") == 1

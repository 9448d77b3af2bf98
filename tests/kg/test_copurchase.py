"""Basket statistics on a hand-computed example, and BOUGHT_WITH in the real graph."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from kgrec.kg.connection import GraphConnection
from kgrec.kg.copurchase import compute_pair_stats, read_baskets, recompute_bought_with, write_bought_with

# N = 5 baskets; orders(a) = 4, orders(b) = 4, orders(c) = 2; together: ab 3, ac 2, bc 1.
BASKETS = {"o1": ["a", "b", "c"], "o2": ["a", "b"], "o3": ["a", "c"], "o4": ["b"], "o5": ["a", "b", "a"]}


def test_pair_stats_match_the_hand_computation() -> None:
    stats = compute_pair_stats(BASKETS, min_orders=2)
    expected = pd.DataFrame(
        {
            "source": ["a", "a", "b", "c"],
            "target": ["b", "c", "a", "a"],
            "orders": [3, 2, 3, 2],
            "support": [0.6, 0.4, 0.6, 0.4],
            "confidence": [0.75, 0.5, 0.75, 1.0],
            "lift": [15 / 16, 1.25, 15 / 16, 1.25],
        }
    )
    pd.testing.assert_frame_equal(stats, expected, check_dtype=False)


def test_min_orders_filters_and_empty_input_is_empty() -> None:
    assert len(compute_pair_stats(BASKETS, min_orders=1)) == 6
    assert len(compute_pair_stats(BASKETS, min_orders=4)) == 0
    assert compute_pair_stats({}, 2).empty
    with pytest.raises(ValueError):
        compute_pair_stats(BASKETS, min_orders=0)


def _load_baskets(graph: GraphConnection) -> None:
    rows = [
        {"o": o, "p": p, "ts": f"2011-01-0{i + 1}T00:00:00Z"}
        for i, (o, items) in enumerate(BASKETS.items())
        for p in sorted(set(items))
    ]
    graph.write_batches(
        "UNWIND $rows AS r MERGE (o:Order {id: r.o}) SET o.timestamp = datetime(r.ts) "
        "MERGE (p:Product {id: r.p}) MERGE (o)-[:CONTAINS {quantity: 1}]->(p)",
        rows,
    )


def test_read_baskets_before_a_time_or_for_given_orders(graph: GraphConnection) -> None:
    _load_baskets(graph)
    everything = read_baskets(graph)
    assert {o: sorted(items) for o, items in everything.items()} == {o: sorted(set(i)) for o, i in BASKETS.items()}
    early = read_baskets(graph, before=datetime(2011, 1, 3, tzinfo=UTC))
    assert sorted(early) == ["o1", "o2"]
    chosen = read_baskets(graph, order_ids=["o3", "o4", "missing"])
    assert sorted(chosen) == ["o3", "o4"]
    assert sorted(read_baskets(graph, before=datetime(2011, 1, 4, tzinfo=UTC), order_ids=["o3", "o4"])) == ["o3"]


def test_written_relationships_carry_directional_confidence(graph: GraphConnection) -> None:
    _load_baskets(graph)
    summary = recompute_bought_with(graph, min_orders=2)
    assert (summary.baskets, summary.pairs, summary.relationships) == (5, 2, 4)
    rows = graph.read(
        "MATCH (x)-[r:BOUGHT_WITH]->(y) RETURN x.id AS x, y.id AS y, r.orders AS n, "
        "r.confidence AS c, r.lift AS lift ORDER BY x, y"
    )
    assert rows == [
        {"x": "a", "y": "b", "n": 3, "c": 0.75, "lift": 0.9375},
        {"x": "a", "y": "c", "n": 2, "c": 0.5, "lift": 1.25},
        {"x": "b", "y": "a", "n": 3, "c": 0.75, "lift": 0.9375},
        {"x": "c", "y": "a", "n": 2, "c": 1.0, "lift": 1.25},
    ]
    again = recompute_bought_with(graph, min_orders=2)
    assert again.relationships == 4
    assert graph.count("MATCH ()-[r:BOUGHT_WITH]->() RETURN count(r) AS n") == 4


def test_training_orders_only(graph: GraphConnection) -> None:
    _load_baskets(graph)
    recompute_bought_with(graph, min_orders=2, before=datetime(2011, 1, 3, tzinfo=UTC))
    rows = graph.read("MATCH (x)-[r:BOUGHT_WITH]->(y) RETURN x.id AS x, y.id AS y, r.support AS s ORDER BY x")
    assert rows == [{"x": "a", "y": "b", "s": 1.0}, {"x": "b", "y": "a", "s": 1.0}]
    write_bought_with(graph, compute_pair_stats({}, 2))
    assert graph.count("MATCH ()-[r:BOUGHT_WITH]->() RETURN count(r) AS n") == 0

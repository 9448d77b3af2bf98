"""Serving from a checkpoint over the live graph, including cold start (new users, products, baskets)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kgrec.gnn.data import DataConfig
from kgrec.gnn.recommender import Recommender
from kgrec.gnn.train import RunConfig, TrainConfig, train_on_graph
from kgrec.kg.connection import GraphConnection
from kgrec.kg.embeddings import TextEncoder, embed_products
from kgrec.kg.errors import ModelError, UnknownEntityError
from kgrec.kg.schema import Label, Rel
from tests.shop_graphs import build_shop_graph, write_orders


def _add_product(graph: GraphConnection, pid: str, title: str, category: str) -> None:
    graph.write(
        f"MERGE (p:{Label.PRODUCT} {{id: $id}}) SET p.title = $title "
        f"WITH p MATCH (c:{Label.CATEGORY} {{path: $cat}}) MERGE (p)-[:{Rel.IN_CATEGORY}]->(c)",
        {"id": pid, "title": title, "cat": category},
    )


def test_recommender_serves_known_and_cold_start_entities(graph: GraphConnection, tmp_path: Path) -> None:
    shop = build_shop_graph(graph, n_users=16, per_theme=6, orders_per_user=5)
    encoder = TextEncoder()
    embed_products(graph, encoder)
    result = train_on_graph(
        graph,
        RunConfig(
            model="hetero_sage",  # products added after training: HeteroSAGE embeds them (KGCF: tests/gnn/test_kgcf.py)
            data=DataConfig(valid_frac=0.15, test_frac=0.15, min_eval_users=3),
            out_dir=str(tmp_path),
            train=TrainConfig(epochs=4, batch_size=64, lr=0.01, progress=False),
        ),
    )
    assert result.checkpoint is not None
    rec = Recommender.load(result.checkpoint, device="cpu")
    with pytest.raises(ModelError):
        rec.recommend("U000")  # no graph context yet: constructors never touch the database
    rec.refresh(graph)

    bought = {p for u, _, _, items in shop.orders if u == "U000" for p in items}
    recs = rec.recommend("U000", k=5)
    assert len(recs) == 5 and not {r.product_id for r in recs} & bought
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    assert all(r.title for r in recs)
    everything = rec.recommend("U000", k=100, exclude_purchased=False)
    assert len(everything) == len(shop.products) and bought <= {r.product_id for r in everything}
    scores = rec.score("U000", [recs[0].product_id, recs[1].product_id])
    assert scores == pytest.approx([recs[0].score, recs[1].score], rel=1e-5)

    with pytest.raises(UnknownEntityError, match="basket"):
        rec.recommend("nobody")
    with pytest.raises(UnknownEntityError):
        rec.score("U000", ["no-such-product"])

    basket = rec.recommend_for_basket(["P000", "P001"], k=5)
    assert len(basket) == 5 and not {"P000", "P001"} & {r.product_id for r in basket}
    assert all(math.isfinite(r.score) for r in basket)
    similar = rec.similar_products("P100", k=3)
    assert len(similar) == 3 and "P100" not in {r.product_id for r in similar}

    # after training: a new product with text and a new user who bought from the shop
    _add_product(graph, "NEW", "ceramic coffee mug with saucer", "Kitchen > Mugs")
    write_orders(graph, [("NEWUSER", "ON-1", 1_700_000_000, ["P000", "P001"])])
    assert embed_products(graph, encoder).encoded == 1
    rec.refresh(graph)
    (first,) = rec.score("U000", ["NEW"])
    assert math.isfinite(first)
    assert len(rec.recommend("NEWUSER", k=3)) == 3
    assert "NEW" in {r.product_id for r in rec.recommend("U000", k=100)}

    graph.write(f"MATCH (p:{Label.PRODUCT} {{id: 'NEW'}}) SET p.title = 'steel garden trowel and hand rake'")
    assert embed_products(graph, encoder).encoded == 1
    (second,) = rec.refresh(graph).score("U000", ["NEW"])
    assert math.isfinite(second) and second != pytest.approx(first, abs=1e-6)

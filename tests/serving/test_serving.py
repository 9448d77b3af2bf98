"""The serving layer over a real KGCF checkpoint and the real test server: the cache, fresh orders,
new users and products without retraining, write-back, and the CLI over the same interface."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.gnn.data import DataConfig
from kgrec.gnn.recommender import Recommender
from kgrec.gnn.train import RunConfig, TrainConfig, train_on_graph
from kgrec.kg import cypher
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.copurchase import recompute_bought_with
from kgrec.kg.schema import Label, Rel
from kgrec.serving import Serving, cache_path
from kgrec.serving.index import ServingIndex
from tests.shop_graphs import ShopGraph, build_shop_graph, set_random_vectors, write_orders

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def trained(
    session_graph: GraphConnection, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ShopGraph, Path]]:
    """A 36-product, 16-customer shop with co-purchases and text vectors, and a KGCF trained on it."""
    from kgrec.kg.schema import ensure_schema

    graph = session_graph
    graph.clear()
    ensure_schema(graph)
    shop = build_shop_graph(graph, n_users=16, per_theme=6, orders_per_user=5)
    set_random_vectors(graph, shop.products)
    recompute_bought_with(graph, min_orders=1)
    runs = tmp_path_factory.mktemp("state") / "runs" / "run1"
    result = train_on_graph(
        graph,
        RunConfig(
            model="kgcf",
            data=DataConfig(valid_frac=0.15, test_frac=0.15, min_eval_users=3),
            out_dir=str(runs),
            train=TrainConfig(epochs=6, batch_size=64, lr=0.01, progress=False),
        ),
    )
    assert result.checkpoint is not None
    yield shop, Path(result.checkpoint)


def test_index_matches_the_recommender_and_is_cached(
    trained: tuple[ShopGraph, Path], session_graph: GraphConnection
) -> None:
    shop, ckpt = trained
    serving = Serving(lambda: session_graph, ckpt, device="cpu")
    with pytest.raises(Exception, match="loading"):
        serving.recommend("U000")  # nothing loaded yet: constructors touch no database
    assert serving.load().kind == "rebuild"
    path = cache_path(ckpt, session_graph.credentials.uri)
    assert path.is_file() and path.parent == ckpt.parent
    reference = Recommender.load(ckpt, device="cpu").refresh(session_graph).recommend("U000", k=5)
    page = serving.recommend("U000", k=5)
    assert page.product_ids == [r.product_id for r in reference]
    assert [i.score for i in page.items] == pytest.approx([r.score for r in reference], rel=1e-4, abs=1e-4)
    bought = {p for u, _, _, items in shop.orders if u == "U000" for p in items}
    assert not bought & set(page.product_ids) and [i.rank for i in page.items] == [1, 2, 3, 4, 5]

    again = Serving(lambda: session_graph, ckpt, device="cpu")
    assert again.load().kind == "unchanged"  # from the cache: no export, no torch model
    assert again.recommend("U000", k=5).product_ids == page.product_ids
    assert serving.recommend_for_basket(["P000"], k=3).items[0].product_id != "P000"
    loaded = ServingIndex.load(path)
    assert loaded is not None and loaded.product_ids == serving.index.product_ids  # type: ignore[union-attr]


def test_page_explanations_from_the_path_index_equal_the_cypher_ones(
    trained: tuple[ShopGraph, Path], session_graph: GraphConnection
) -> None:
    shop, ckpt = trained
    fast = Serving(lambda: session_graph, ckpt, device="cpu", path_index=True)
    slow = Serving(lambda: session_graph, ckpt, device="cpu")
    fast.load()
    slow.load()
    assert fast.paths is not None and slow.paths is None
    for user in shop.users[:6]:
        page = fast.recommend(user, k=8)
        explained = fast.explain_page(page, 3)
        assert set(explained) == set(page.product_ids)
        assert explained == slow.explain_page(page, 3)
    cached = list(ckpt.parent.glob("*.paths-*.json"))  # cached next to the serving index
    assert len(cached) == 1 and cached[0].stat().st_size > 0
    session_graph.write(  # a bundle and nothing else: the serving index is unchanged, the path index is not
        f"MATCH (a:{Label.PRODUCT} {{id: 'P000'}}), (b:{Label.PRODUCT} {{id: 'P001'}}) "
        f"CREATE (n:{Label.BUNDLE} {{id: 'B-new', title: 'new'}}) CREATE (n)-[:{Rel.INCLUDES}]->(a) "
        f"CREATE (n)-[:{Rel.INCLUDES}]->(b)"
    )
    assert fast.refresh().kind == "unchanged"
    assert [b["bundle_id"] for b in fast.paths.bundles] == ["B-new"]
    session_graph.write(f"MATCH (n:{Label.BUNDLE} {{id: 'B-new'}}) DETACH DELETE n")


def test_fresh_orders_users_and_products_without_retraining(
    trained: tuple[ShopGraph, Path], session_graph: GraphConnection
) -> None:
    shop, ckpt = trained
    graph = session_graph
    serving = Serving(lambda: graph, ckpt, device="cpu")
    serving.load()
    before = serving.recommend("U000", k=5)
    fresh = before.product_ids[:2]  # U000 now buys its two best recommendations
    newest = max(ts for _, _, ts, _ in shop.orders)
    write_orders(
        graph, [("U000", "O-fresh-1", newest + 10, fresh), ("U900", "O-fresh-2", newest + 20, ["P000", "P001"])]
    )
    report = serving.refresh()
    assert report.kind == "incremental" and report.new_orders == 2 and report.new_users == 1
    after = serving.recommend("U000", k=5)
    assert not set(fresh) & set(after.product_ids)  # bought now: masked at once
    newcomer = serving.recommend("U900", k=3)  # a customer the model never saw: from what they bought
    assert len(newcomer.items) == 3 and not {"P000", "P001"} & set(newcomer.product_ids)

    theme0 = [p for p in shop.products if shop.theme_of[p] == shop.theme_of["P000"]]
    vector = graph.read(f"MATCH (p:{Label.PRODUCT} {{id: 'P000'}}) RETURN p.embedding AS v")[0]["v"]
    graph.write(
        f"MATCH (c:{Label.CATEGORY} {{path: $cat}}) CREATE (p:{Label.PRODUCT} {{id: 'PNEW', title: 'NEW THING', "
        f"price: 2.0, embedding: $v}})-[:{Rel.IN_CATEGORY}]->(c)",
        {"cat": shop.theme_of["P000"], "v": vector},
    )
    report = serving.refresh()
    assert report.kind == "incremental" and report.new_products == 1
    index = serving.index
    assert index is not None and not index.known_item[index.product_row["PNEW"]]
    (scored,) = serving.score("U000", ["PNEW"])
    assert np.isfinite(scored.score)
    like = serving.similar("PNEW", k=5).product_ids  # its neighbours: mostly its own category
    assert sum(p in theme0 for p in like) >= 3
    cached = ServingIndex.load(cache_path(ckpt, graph.credentials.uri))
    assert cached is not None and "PNEW" in cached.product_row  # the refreshed index is cached


def test_write_back_replaces_recommended_edges(trained: tuple[ShopGraph, Path], session_graph: GraphConnection) -> None:
    _, ckpt = trained
    serving = Serving(lambda: session_graph, ckpt, device="cpu")
    serving.load()
    done = serving.write_back(["U001", "U002"], k=3)
    assert done.users == 2 and done.relationships == 6 and done.model.startswith("kgcf:")
    rows = session_graph.read(cypher.READ_RECOMMENDED, {"ids": ["U001", "U002"]})
    mine = [r for r in rows if r["user_id"] == "U001"]
    assert [r["product_id"] for r in mine] == serving.recommend("U001", k=3).product_ids
    assert [r["rank"] for r in mine] == [1, 2, 3] and mine[0]["model"] == done.model and mine[0]["at"] is not None
    serving.write_back(["U001"], k=2)  # replaces, never adds
    assert len(session_graph.read(cypher.READ_RECOMMENDED, {"ids": ["U001"]})) == 2
    everyone = serving.write_back(None, k=1)
    assert everyone.users == len(serving.index.user_ids)  # type: ignore[union-attr]
    with pytest.raises(Exception, match="not in the graph"):
        serving.write_back(["NOBODY"], k=1)


def test_cli_goes_through_the_serving_layer(
    trained: tuple[ShopGraph, Path], session_graph: GraphConnection, test_credentials: Neo4jCredentials
) -> None:
    _, ckpt = trained
    env = {
        "KGREC_NEO4J_URI": test_credentials.uri,
        "KGREC_NEO4J_PASSWORD": test_credentials.password,
        "KGREC_STATE_DIR": str(ckpt.parent.parent.parent),
    }
    runner = CliRunner()
    out = runner.invoke(app, ["recommend", "U003", "-k", "3"], env=env)
    assert out.exit_code == 0 and "recommendations for U003" in out.output
    basket = runner.invoke(app, ["recommend", "--basket", "P000,P001", "-k", "2"], env=env)
    assert basket.exit_code == 0 and "basket" in basket.output
    stored = runner.invoke(app, ["recommend", "U003", "--write-back", "-k", "2"], env=env)
    assert stored.exit_code == 0 and "2 RECOMMENDED relationships for 1 users" in stored.output
    completed = runner.invoke(app, ["basket", "complete", "P000", "-k", "2"], env=env)
    assert completed.exit_code == 0 and "to add to P000" in completed.output
    empty = runner.invoke(app, ["bundles", "recommend", "U003"], env=env)
    assert empty.exit_code == 0 and "kgrec bundles mine" in empty.output  # an empty answer says what to do
    unknown = runner.invoke(app, ["recommend", "NOBODY"], env=env)
    assert unknown.exit_code == 1 and "not in the graph" in unknown.output and "Traceback" not in unknown.output

"""Basket completion: the split hides items, evaluation masks the context, one-order shops work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
import torch

from kgrec.gnn.basket_models import PairScorer, Popularity
from kgrec.gnn.baskets import (
    ITEM_ITEM,
    BasketPart,
    BasketTaskConfig,
    basket_split,
    complete_basket,
    evaluate_baskets,
    run_basket_task,
)
from kgrec.kg.errors import ModelError
from kgrec.kg.export import GraphSnapshot, OrderRows

THEMES, PER_THEME = 4, 10


def themed_shop(n_orders: int = 400, seed: int = 0, popular_noise: bool = True) -> GraphSnapshot:
    """Each order (one per customer) holds 4 products of one theme; product 0 is bought everywhere."""
    rng = np.random.default_rng(seed)
    n = THEMES * PER_THEME
    rows = []
    for o in range(n_orders):
        t = int(rng.integers(THEMES))
        items = set(rng.choice(np.arange(t * PER_THEME, (t + 1) * PER_THEME), 4, replace=False).tolist())
        if popular_noise and rng.random() < 0.5:
            items.add(int(rng.integers(n)))
        rows += [(o, o, i, 1_000 + o) for i in sorted(items)]
    u, o_, p, ts = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    orders = OrderRows(u, o_, p, ts, [f"O{i:04d}" for i in range(n_orders)])
    cat = np.stack([np.arange(n), np.arange(n) // PER_THEME])
    theme_vec = rng.normal(size=(THEMES, 16))
    emb = (theme_vec[np.arange(n) // PER_THEME] + rng.normal(size=(n, 16))).astype(np.float32)
    return GraphSnapshot(
        {
            "user": [f"U{i:04d}" for i in range(n_orders)],
            "product": [f"P{i:03d}" for i in range(n)],
            "category": [f"C{i}" for i in range(THEMES)],
        },
        {("product", "IN_CATEGORY", "category"): cat},
        orders=orders,
        product_embeddings=emb,
        embedding_mask=np.ones(n, bool),
    )


def fast_config(**kw: object) -> BasketTaskConfig:
    base = BasketTaskConfig(min_eval_baskets=20)
    return replace(
        base,
        gnn=replace(base.gnn, dim=16),
        train=replace(base.train, epochs=8, device="cpu", patience=8),
        **kw,  # type: ignore[arg-type]
    )


def test_split_hides_part_of_each_later_basket_and_trains_on_the_rest() -> None:
    snap = themed_shop(200)
    assert snap.orders is not None
    split = basket_split(snap.orders, snap.num("product"), seed=3)
    assert split.counts["train_baskets"] == 160 and split.counts["test_orders"] == 20
    held = set(split.valid.orders) | set(split.test.orders)
    assert not held & set(snap.orders.order[split.train_lines].tolist())  # held-out orders never train
    assert min(split.test.orders) > max(split.valid.orders)  # test is the latest
    for part in (split.valid, split.test):
        for ctx, tgt, o in zip(part.contexts, part.targets, part.orders, strict=True):
            basket = set(snap.orders.product[snap.orders.order == o].tolist())
            assert ctx and tgt and not set(ctx) & set(tgt) and set(ctx) | set(tgt) == basket
            assert len(tgt) == min(max(1, round(0.5 * len(basket))), len(basket) - 1)
    again = basket_split(snap.orders, snap.num("product"), seed=3)
    assert again.test.targets == split.test.targets
    assert basket_split(snap.orders, snap.num("product"), seed=4).test.targets != split.test.targets


def test_evaluation_masks_the_context() -> None:
    class Fixed:
        name = "fixed"

        def fit(self, baskets: Sequence[Sequence[int]], num_products: int) -> None: ...

        def score(self, contexts: Sequence[Sequence[int]]) -> torch.Tensor:
            return torch.arange(12, 0, -1).float().expand(len(contexts), -1)  # item 0 best

    part = BasketPart([[0, 1]], [[2]], [0])  # context items 0 and 1 rank first unless masked
    out = evaluate_baskets(Fixed(), part)
    assert out["mrr"] == 1.0 and out["hit@10"] == 1.0 and out["recall@10"] == 1.0


def test_zero_baskets_are_refused_with_advice() -> None:
    with pytest.raises(ModelError, match="0 held-out baskets"):
        evaluate_baskets(Popularity(), BasketPart([], [], []))
    snap = themed_shop(60)
    with pytest.raises(ModelError, match="at least 50 each"):
        run_basket_task(snap, BasketTaskConfig(models=("popularity",)))


def test_pair_scorers_count_every_pair() -> None:
    conf = PairScorer("confidence")
    conf.fit([[0, 1], [0, 2], [0, 1]], 3)
    assert torch.allclose(conf.score([[0]])[0], torch.tensor([0.0, 2 / 3, 1 / 3]))
    lift = PairScorer("lift")
    lift.fit([[0, 1], [2, 3]], 4)
    assert lift.score([[0]])[0, 1] == pytest.approx(2.0)  # a single co-purchase counts


def test_one_order_shop_gnn_beats_popularity_and_serves_a_basket() -> None:
    snap = themed_shop(400)
    assert snap.orders is not None and len(np.unique(snap.orders.user)) == 400  # every customer buys once
    report = run_basket_task(snap, fast_config(models=("gnn", "popularity"), fusion_terms=()))
    assert report.counts["test_baskets"] == 40 and report.chosen["gnn"] == "gnn"
    assert set(report.valid) == {"gnn", "popularity"}
    assert report.test["gnn"]["hit@10"] > report.test["popularity"]["hit@10"] + 0.2
    assert report.test["gnn"]["mrr"] > report.test["popularity"]["mrr"]
    top = complete_basket(report.scorers["gnn"], snap, ["P011", "P012"], k=5)
    assert len(top) == 5 and {"P011", "P012"}.isdisjoint(p for p, _ in top)
    assert sum(p.startswith("P01") for p, _ in top) >= 4  # the basket's theme
    with pytest.raises(ModelError):
        complete_basket(report.scorers["gnn"], snap, ["nope"])


def test_fusion_weights_are_chosen_on_validation_beside_the_item_item_ablation() -> None:
    report = run_basket_task(themed_shop(300, seed=1), fast_config(models=("gnn",), fusion_weights=(0.0, 1.0)))
    gnn_labels = {f"gnn/ease={a},itemknn={b}" for a in (0, 1) for b in (0, 1)}
    assert set(report.valid) == gnn_labels | {f"{ITEM_ITEM}/itemknn={b}" for b in (0, 1)}
    best = max(sorted(gnn_labels, key=list(report.valid).index), key=lambda lab: report.valid[lab]["mrr"])
    assert report.chosen["gnn"] == best
    assert report.fusion == {t: float(w) for t, w in (p.split("=") for p in best.partition("/")[2].split(","))}
    assert set(report.test) == {"gnn", ITEM_ITEM}  # the ablation is tested beside the GNN

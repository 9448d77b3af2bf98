r"""Basket completion: complete a held-out basket from its other products; needs no returning customer.

**Split** (:func:`basket_split`). Orders are sorted by time (first line's timestamp, then order
index); the last ``test_frac`` are the test baskets, the ``valid_frac`` before them the validation
baskets, every other order is training data (so shops whose customers buy once work). Each
held-out basket with at least two distinct products hides a seeded ``hide_frac`` of them (at
least one, at most all but one) as targets; the rest is its context.

**Evaluation** (:func:`evaluate_baskets`). Full ranking over every product with the context
masked; ``hit@K``, ``recall@K`` and full-ranking ``mrr`` from ``gnn.metrics``. Zero baskets is an
error, never a table of zeros.

**Task** (:func:`run_basket_task`): every model on validation over its small grid, the chosen
configurations once on test. The GNN's served score is :math:`z(s_{gnn}) + \sum_t w_t z(s_t)` over
the item-item terms ``fusion_terms`` (EASE and item-kNN), every weight combination of
``fusion_weights`` tried on validation; the same terms fused without the GNN (``item_item_fused``)
are tested beside it, so the GNN's share is visible. Results come in a :class:`BasketReport`;
:func:`complete_basket` serves one basket.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from itertools import product

import numpy as np
import torch

from kgrec.gnn.basket_models import (
    BasketScorer,
    Ease,
    FusedScorer,
    GnnScorer,
    PairScorer,
    Popularity,
    TextScorer,
)
from kgrec.gnn.metrics import RankingAccumulator
from kgrec.gnn.models.kgcf import KGCFConfig
from kgrec.gnn.shop_profile import MIN_EVAL_BASKETS, profile_orders
from kgrec.gnn.train import TrainConfig, Validation, set_seed
from kgrec.kg.errors import ModelError
from kgrec.kg.export import GraphSnapshot, OrderRows

#: Catalogue relations the basket GNN propagates over (product-side knowledge graph).
CATALOGUE_EDGES = (
    ("product", "IN_CATEGORY", "category"),
    ("category", "CHILD_OF", "category"),
    ("product", "MADE_BY", "brand"),
    ("product", "HAS_ATTRIBUTE", "attribute"),
)
ALL_MODELS = ("gnn", "confidence", "lift", "itemknn", "ease", "text", "popularity")
#: The ablation of the fused GNN: its item-item terms fused alone (tested beside it, not a baseline).
ITEM_ITEM = "item_item_fused"


@dataclass(frozen=True)
class BasketPart:
    """Held-out baskets: ``contexts[b]`` shown to the model, ``targets[b]`` to be ranked."""

    contexts: list[list[int]]
    targets: list[list[int]]
    orders: list[int]  # index into OrderRows.order_ids

    def __len__(self) -> int:
        return len(self.contexts)


@dataclass(frozen=True)
class BasketSplit:
    """Training baskets and lines, validation and test parts, and the counts behind them."""

    num_products: int
    train: list[list[int]]
    train_lines: np.ndarray  # bool per order line
    valid: BasketPart
    test: BasketPart
    counts: dict[str, int]


def _baskets(orders: OrderRows) -> tuple[np.ndarray, list[np.ndarray]]:
    """Orders present in ``orders`` by time, and each one's distinct products (sorted)."""
    present = np.unique(orders.order)
    start = np.full(len(orders.order_ids), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(start, orders.order, orders.timestamp.astype(np.int64))
    by_time = present[np.lexsort((present, start[present]))]
    order_sorted = np.argsort(orders.order, kind="stable")
    bounds = np.searchsorted(orders.order[order_sorted], by_time)
    ends = np.searchsorted(orders.order[order_sorted], by_time, side="right")
    products = [np.unique(orders.product[order_sorted[a:b]]) for a, b in zip(bounds, ends, strict=True)]
    return by_time, products


def basket_split(
    orders: OrderRows,
    num_products: int,
    valid_frac: float = 0.1,
    test_frac: float = 0.1,
    hide_frac: float = 0.5,
    seed: int = 42,
) -> BasketSplit:
    """Split orders by time into training baskets and held-out validation/test baskets (module doc)."""
    if min(valid_frac, test_frac, hide_frac) <= 0 or valid_frac + test_frac >= 1 or hide_frac >= 1:
        raise ModelError("valid_frac, test_frac and hide_frac must be in (0, 1), valid + test < 1")
    if len(orders) == 0:
        raise ModelError("there are no order lines: ingest orders before the basket task")
    by_time, products = _baskets(orders)
    n = len(by_time)
    n_test, n_valid = round(n * test_frac), round(n * valid_frac)
    cut_valid, cut_test = n - n_test - n_valid, n - n_test
    rng = np.random.default_rng(seed)
    parts = []
    for lo, hi in ((cut_valid, cut_test), (cut_test, n)):
        contexts, targets, ids = [], [], []
        for k in range(lo, hi):
            items = products[k]
            if len(items) < 2:
                continue
            hide = min(max(1, round(hide_frac * len(items))), len(items) - 1)
            mask = np.zeros(len(items), bool)
            mask[rng.choice(len(items), hide, replace=False)] = True
            contexts.append(items[~mask].tolist())
            targets.append(items[mask].tolist())
            ids.append(int(by_time[k]))
        parts.append(BasketPart(contexts, targets, ids))
    held = np.zeros(len(orders.order_ids), bool)
    held[by_time[cut_valid:]] = True
    train_lines = ~held[orders.order]
    train = [p.tolist() for p in products[:cut_valid]]
    counts = {
        "orders": n,
        "train_baskets": len(train),
        "train_lines": int(train_lines.sum()),
        "valid_orders": cut_test - cut_valid,
        "valid_baskets": len(parts[0]),
        "valid_targets": sum(len(t) for t in parts[0].targets),
        "test_orders": n - cut_test,
        "test_baskets": len(parts[1]),
        "test_targets": sum(len(t) for t in parts[1].targets),
    }
    return BasketSplit(num_products, train, train_lines, parts[0], parts[1], counts)


def evaluate_baskets(
    scorer: BasketScorer, part: BasketPart, ks: Sequence[int] = (10,), batch: int = 512, min_baskets: int = 1
) -> dict[str, float]:
    """``hit@K``, ``recall@K`` and full-ranking ``mrr`` over ``part`` (context items masked)."""
    if len(part) < max(min_baskets, 1):
        raise ModelError(
            f"only {len(part)} held-out baskets with at least 2 products qualified (at least "
            f"{max(min_baskets, 1)} are needed): ingest more orders or raise valid_frac/test_frac"
        )
    num_products = 0
    acc: RankingAccumulator | None = None
    for start in range(0, len(part), batch):
        ctx, tgt = part.contexts[start : start + batch], part.targets[start : start + batch]
        scores = scorer.score(ctx).float().clone()
        if acc is None:
            num_products = scores.size(1)
            acc = RankingAccumulator(num_products, ks=tuple(k for k in ks if k <= num_products) or (num_products,))
        rows = torch.from_numpy(np.repeat(np.arange(len(ctx)), [len(c) for c in ctx]))
        scores[rows, torch.tensor([i for c in ctx for i in c], dtype=torch.long)] = float("-inf")
        t_rows = torch.from_numpy(np.repeat(np.arange(len(tgt)), [len(t) for t in tgt]))
        acc.update(scores, t_rows, torch.tensor([i for t in tgt for i in t], dtype=torch.long))
    assert acc is not None
    out = acc.compute()
    return {name: out[name] for k in acc.ks for name in (f"hit@{k}", f"recall@{k}")} | {"mrr": out["mrr"]}


@dataclass(frozen=True)
class BasketTaskConfig:
    """The basket task: split, models and their validation grids, GNN training; defaults = reported."""

    models: tuple[str, ...] = ALL_MODELS
    valid_frac: float = 0.1
    test_frac: float = 0.1
    hide_frac: float = 0.5
    seed: int = 42
    k: int = 10
    select_metric: str = "mrr"  # chooses every configuration on validation
    min_eval_baskets: int = MIN_EVAL_BASKETS
    itemknn_k: tuple[int, ...] = (20, 100, 400)
    ease_l2: tuple[float, ...] = (5.0, 10.0, 25.0, 50.0, 200.0)
    fusion_terms: tuple[str, ...] = ("ease", "itemknn")  # item-item terms fused with the GNN (each weight gridded)
    fusion_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
    gnn: KGCFConfig = field(
        default_factory=lambda: KGCFConfig(fuse_weight=0.0, trend_weight=0.0, objective="full", cl_weight=0.05)
    )
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=30, batch_size=4096, lr=0.01, num_negatives=1, patience=4, progress=False, device="auto"
        )
    )


@dataclass
class BasketReport:
    """Per configuration validation metrics, chosen configurations' test metrics, counts, fusion."""

    counts: dict[str, int]
    valid: dict[str, dict[str, float]]  # configuration label (e.g. ``itemknn/k=100``) → metrics
    test: dict[str, dict[str, float]]  # model → metrics of its chosen configuration
    chosen: dict[str, str]  # model → configuration label
    fusion: dict[str, float] = field(default_factory=dict)  # item-item term → its chosen weight next to the GNN
    gnn_epochs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    scorers: dict[str, BasketScorer] = field(default_factory=dict, repr=False, compare=False)


def catalogue_graph(snapshot: GraphSnapshot) -> tuple[torch.Tensor, int]:
    """``[2, E]`` catalogue edges numbered ``[products | categories, brands, attributes]`` and the node count."""
    types = ["product", *sorted({t for key in CATALOGUE_EDGES for t in (key[0], key[2])} - {"product"})]
    offset, total = {}, 0
    for t in types:
        offset[t], total = total, total + snapshot.num(t)
    parts = [
        np.stack([e[0] + offset[key[0]], e[1] + offset[key[2]]])
        for key in CATALOGUE_EDGES
        if (e := snapshot.edge(key)).shape[1]
    ]
    edges = np.concatenate(parts, 1) if parts else np.zeros((2, 0), np.int64)
    return torch.from_numpy(edges.astype(np.int64)), total


def _text(snapshot: GraphSnapshot) -> torch.Tensor | None:
    if snapshot.embedding_dim == 0 or not snapshot.embedding_mask.any():
        return None
    return torch.from_numpy(snapshot.product_embeddings * snapshot.embedding_mask[:, None])


def _grid(name: str, config: BasketTaskConfig, snapshot: GraphSnapshot) -> dict[str, Callable[[], BasketScorer]]:
    if name == "popularity":
        return {"popularity": Popularity}
    if name in ("confidence", "lift"):
        return {name: lambda: PairScorer(name)}
    if name == "itemknn":
        return {f"itemknn/k={k}": (lambda k=k: PairScorer("itemknn", k=k)) for k in config.itemknn_k}  # type: ignore[misc]
    if name == "ease":
        return {f"ease/l2={v:g}": (lambda v=v: Ease(v)) for v in config.ease_l2}  # type: ignore[misc]
    if name == "text":
        text = _text(snapshot)
        if text is None:
            raise ModelError("the products have no text vectors: run `kgrec embed` or leave out the text model")
        return {"text": lambda: TextScorer(text)}
    raise ModelError(f"unknown basket model {name!r}: use {', '.join(ALL_MODELS)}")


def _best(valid: dict[str, dict[str, float]], labels: Sequence[str], metric: str) -> str:
    return max(labels, key=lambda label: valid[label][metric])


def run_basket_task(snapshot: GraphSnapshot, config: BasketTaskConfig | None = None) -> BasketReport:
    """Split the snapshot's orders, fit every model, choose on validation, test the chosen ones once."""
    config = config or BasketTaskConfig()
    if snapshot.orders is None or len(snapshot.orders) == 0:
        raise ModelError("the graph has no orders: the basket task needs Order nodes with their products")
    set_seed(config.seed)
    n = snapshot.num("product")
    split = basket_split(snapshot.orders, n, config.valid_frac, config.test_frac, config.hide_frac, config.seed)
    short = min(split.counts["valid_baskets"], split.counts["test_baskets"])
    if short < config.min_eval_baskets:
        raise ModelError(
            f"{split.counts['valid_baskets']} validation and {split.counts['test_baskets']} test baskets "
            f"with at least 2 products qualified (at least {config.min_eval_baskets} each are needed): "
            f"{profile_orders(snapshot.orders).suggestion('basket')}"
        )
    metric, ks = config.select_metric, (config.k,)
    report = BasketReport(split.counts, {}, {}, {})

    def measure(label: str, scorer: BasketScorer) -> None:
        report.valid[label] = evaluate_baskets(scorer, split.valid, ks)

    fitted: dict[str, BasketScorer] = {}
    for name in [m for m in config.models if m != "gnn"]:
        t0 = time.perf_counter()
        grid = _grid(name, config, snapshot)
        for label, make in grid.items():
            scorer = make()
            scorer.fit(split.train, n)
            measure(label, scorer)
            fitted[label] = scorer
        report.chosen[name] = _best(report.valid, list(grid), metric)
        report.scorers[name] = fitted[report.chosen[name]]
        report.seconds[name] = time.perf_counter() - t0
    if "gnn" in config.models:
        t0 = time.perf_counter()
        catalogue, nodes = catalogue_graph(snapshot)
        gnn = GnnScorer(catalogue, nodes, _text(snapshot), config.gnn, replace(config.train, k=config.k))
        gnn.validation = Validation(lambda: evaluate_baskets(gnn, split.valid, ks), metric)
        gnn.fit(split.train, n)
        report.gnn_epochs = gnn.result.best_epoch if gnn.result else 0
        terms: dict[str, BasketScorer] = {}
        for term in config.fusion_terms:
            if term not in report.scorers:
                grid = _grid(term, config, snapshot)
                scorer = grid[next(iter(grid))]()
                scorer.fit(split.train, n)
                report.scorers[term] = scorer
            terms[term] = report.scorers[term]
        labels = []
        for weights in product(config.fusion_weights, repeat=len(terms)):
            label = "gnn/" + ",".join(f"{t}={w:g}" for t, w in zip(terms, weights, strict=True)) if terms else "gnn"
            fused = FusedScorer("gnn", [(1.0, gnn), *zip(weights, terms.values(), strict=True)])
            measure(label, fused)
            fitted[label] = fused
            labels.append(label)
        report.chosen["gnn"] = _best(report.valid, labels, metric)
        best = fitted[report.chosen["gnn"]]
        assert isinstance(best, FusedScorer)
        report.fusion = {t: w for (w, _), t in zip(best.parts[1:], terms, strict=True)}
        report.scorers["gnn"] = best
        if len(terms) > 1:  # the ablation: the same item-item terms fused WITHOUT the GNN
            first, *rest = terms.items()
            item_labels = []
            for weights in product(config.fusion_weights, repeat=len(rest)):
                label = ITEM_ITEM + "/" + ",".join(f"{t}={w:g}" for (t, _), w in zip(rest, weights, strict=True))
                fused = FusedScorer(ITEM_ITEM, [(1.0, first[1]), *zip(weights, (s for _, s in rest), strict=True)])
                measure(label, fused)
                fitted[label] = fused
                item_labels.append(label)
            report.chosen[ITEM_ITEM] = _best(report.valid, item_labels, metric)
            report.scorers[ITEM_ITEM] = fitted[report.chosen[ITEM_ITEM]]
        report.seconds["gnn"] = time.perf_counter() - t0
    for name in [*config.models, *([ITEM_ITEM] if ITEM_ITEM in report.scorers else [])]:
        report.test[name] = evaluate_baskets(report.scorers[name], split.test, ks)
    return report


def complete_basket(
    scorer: BasketScorer, snapshot: GraphSnapshot, product_ids: Sequence[str], k: int = 10
) -> list[tuple[str, float]]:
    """Top ``k`` products (id, score) to add to a basket of ``product_ids`` (unknown ids are refused)."""
    index = snapshot.index.get("product", {})
    unknown = [p for p in product_ids if p not in index]
    if unknown or not product_ids:
        raise ModelError(f"unknown or no basket products {unknown[:5]}: give product ids of the graph")
    context = sorted({index[p] for p in product_ids})
    scores = scorer.score([context])[0].float().clone()
    scores[torch.tensor(context)] = float("-inf")
    top = scores.topk(min(k, int(torch.isfinite(scores).sum())))
    ids = snapshot.ids["product"]
    return [(ids[int(i)], float(v)) for v, i in zip(top.values, top.indices, strict=True)]

"""Bundle recommendation on Youshu (BGCN/CrossCBR release): rank all 4,771 bundles per test user.

Protocol (CrossCBR's official code): train on ``user_bundle_train``, pick the epoch on
``user_bundle_tune`` (Recall@20), report ``user_bundle_test`` with the training bundles masked.
Recall@20 / NDCG@20 from ``gnn.metrics`` (binary relevance, log2(rank+1), DCG/IDCG).

    .venv/bin/python -m bench.bundle_youshu                            # the reported run
    .venv/bin/python -m bench.bundle_youshu --epochs 2 --out /tmp      # smoke run

Models: ``popularity`` (training bundle counts), ``item-overlap`` (share of the bundle's items the
user interacted with), ``bundle_ease`` (gnn.models.bundle_fusion.BundleEASE: EASE whose bundle
Gram matrix also counts shared items and item profiles; every ``EASE_GRID`` x ``PROFILE_INPUTS``
configuration is a ``tune`` row, the best is tested), ``crosscbr``
(gnn.models.bundle_gnn.CrossViewBundleModel, trained by ``gnn.train.train_model``: early stopping
on tune Recall@20 every ``eval_every`` epochs, at most ``epochs``; every ``GNN_GRID`` configuration a
``tune`` row, the best by tune Recall@20 tested), ``crosscbr-item-view`` (the same
GNN scoring every bundle as if it were new, from its items only: how well unseen bundles are ranked
without retraining) and ``gnn``, the served bundle model: z(crosscbr) + w_e z(bundle_ease) +
w_p z(log(1 + count)) (gnn.models.bundle_fusion.FusedBundleModel), every ``FUSION_GRID`` weight
pair a ``tune`` row, the best tested once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bench.common import CACHE, RESULTS, SHARED_DATA, Result, run, write_results
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.graph_ops import mean_pool_matrix
from kgrec.gnn.metrics import RankingAccumulator
from kgrec.gnn.models.baselines import Popularity
from kgrec.gnn.models.bundle_fusion import BundleEASE, BundleEASEConfig, FusedBundleModel, standardise
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
from kgrec.gnn.train import TrainConfig, TrainResult, train_model

DATA = SHARED_DATA / "youshu"
KS = (20,)
ScoreAll = Callable[[Tensor], Tensor]
#: (item_weight a, profile_weight c, l2 lambda) of bundle EASE tried on tune (one inverse each) ...
EASE_GRID = [(0.3, 0.3, 1000.0)]
#: ... each scored with these weights r of the user's item profile as input.
PROFILE_INPUTS = (0.0, 0.15, 0.3)
#: (ease_weight, pop_weight) of the fused ``gnn`` tried on tune.
FUSION_GRID = [(e, p) for e in (0.2, 0.4, 0.6, 0.8, 1.0) for p in (0.0, 0.1)]
#: CrossCBR configurations tried on tune, as changes to ``main``'s arguments (the first: none); the best by
#: tune Recall@20 is the one tested and fused.
GNN_GRID: list[dict[str, float]] = [{}, {"dim": 128}, {"lr": 1e-3}, {"l2": 4e-5}, {"layers": 2}]


@dataclass(frozen=True)
class Youshu:
    """The Youshu release as 0-based edge arrays ``[2, E]``."""

    num_users: int
    num_bundles: int
    num_items: int
    user_item: np.ndarray
    bundle_item: np.ndarray
    train: np.ndarray
    tune: np.ndarray
    test: np.ndarray


def load_youshu(folder: Path = DATA) -> Youshu:
    sizes = [int(x) for x in (folder / "Youshu_data_size.txt").read_text().split()[:3]]

    def pairs(name: str) -> np.ndarray:
        return np.loadtxt(folder / name, dtype=np.int64, ndmin=2).T.copy()

    return Youshu(
        sizes[0],
        sizes[1],
        sizes[2],
        pairs("user_item.txt"),
        pairs("bundle_item.txt"),
        pairs("user_bundle_train.txt"),
        pairs("user_bundle_tune.txt"),
        pairs("user_bundle_test.txt"),
    )


def evaluate(
    score_all: ScoreAll, num_bundles: int, mask: np.ndarray, target: np.ndarray, batch: int = 2048
) -> dict[str, float]:
    """Recall/NDCG@20 over users with targets; ``mask`` pairs get -inf before ranking."""
    acc = RankingAccumulator(num_bundles, ks=KS)
    users = np.unique(target[0])
    mask_t, target_t = torch.from_numpy(mask), torch.from_numpy(target)
    num_users = int(max(mask[0].max(initial=0), target[0].max())) + 1
    for start in range(0, len(users), batch):
        chunk = torch.from_numpy(users[start : start + batch])
        pos = torch.full((num_users,), -1, dtype=torch.long)
        pos[chunk] = torch.arange(chunk.numel())
        with torch.no_grad():
            scores = score_all(chunk).float().clone()
        m = pos[mask_t[0]] >= 0
        scores[pos[mask_t[0][m]], mask_t[1][m]] = float("-inf")
        t = pos[target_t[0]] >= 0
        acc.update(scores, pos[target_t[0][t]], target_t[1][t])
    out = acc.compute()
    return {"recall@20": out["recall@20"], "ndcg@20": out["ndcg@20"]}


class ItemOverlap(RecModel):
    """Item view without learning: ``s(u, b) = |I(u) ∩ I(b)| / |I(b)| + ε·popularity(b)``."""

    trainable = False
    name = "item-overlap"

    def __init__(self, data: Youshu) -> None:
        super().__init__()
        ui, bi = data.user_item, data.bundle_item
        self.ui = torch.sparse_coo_tensor(
            torch.from_numpy(ui), torch.ones(ui.shape[1]), (data.num_users, data.num_items)
        ).coalesce()
        self.bi = mean_pool_matrix(bi[0], bi[1], data.num_bundles, data.num_items)
        self.pop = torch.zeros(data.num_bundles)

    def fit(self, train: Interactions) -> None:
        counts = torch.bincount(train.edge_index[1], minlength=train.num_items).float()
        self.pop = 1e-3 * counts / counts.max()

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.score_all(users)[torch.arange(len(users)), items]

    def score_all(self, users: Tensor) -> Tensor:
        rows = self.ui.index_select(0, users).to_dense()
        return torch.sparse.mm(self.bi, rows.T).T + self.pop


def train_gnn(
    data: Youshu, config: BundleModelConfig, schedule: TrainConfig
) -> tuple[CrossViewBundleModel, TrainResult]:
    """Train on ``train`` with early stopping on ``tune`` Recall@20 (training bundles masked): the one trainer."""
    torch.manual_seed(config.seed)
    model = CrossViewBundleModel(
        data.num_users,
        data.num_bundles,
        data.num_items,
        torch.from_numpy(data.user_item),
        torch.from_numpy(data.bundle_item),
        config,
    )
    split = LinkSplit(
        *(
            Interactions(data.num_users, data.num_bundles, torch.from_numpy(e))
            for e in (data.train, data.tune, data.test)
        )
    )
    model.fit(split.train)
    return model, train_model(model, split, schedule)


def label(name: str, params: dict[str, float]) -> str:
    """``name[k=v,...]``: one grid configuration's row name."""
    return name + "[" + ",".join(f"{k}={v:g}" for k, v in params.items()) + "]"


def tune_ease(data: Youshu, train: Interactions) -> tuple[BundleEASE, list[Result]]:
    """Every ``EASE_GRID`` x ``PROFILE_INPUTS`` configuration on tune (rows); the best by tune Recall@20."""
    rows: list[Result] = []
    best: tuple[float, BundleEASE | None, BundleEASEConfig | None] = (-1.0, None, None)
    for item_weight, profile_weight, l2 in EASE_GRID:
        model = BundleEASE(
            data.num_users,
            data.num_bundles,
            data.num_items,
            torch.from_numpy(data.user_item),
            torch.from_numpy(data.bundle_item),
            BundleEASEConfig(l2, item_weight, profile_weight),
        )
        model.fit(train)  # one inverse per Gram matrix; the input weight r only changes the scoring
        for r in PROFILE_INPUTS:
            model.config = replace(model.config, profile_input=r)
            m = evaluate(model.score_all, data.num_bundles, data.train, data.tune)
            params = {"a": item_weight, "c": profile_weight, "l2": l2, "r": r}
            print(f"{label('bundle_ease', params)}: tune recall@20 {m['recall@20']:.4f}", flush=True)
            rows += [Result(label("bundle_ease", params), "tune", k, v) for k, v in m.items()]
            if m["recall@20"] > best[0]:
                best = (m["recall@20"], model, model.config)
    best_model, best_config = best[1], best[2]
    assert best_model is not None and best_config is not None
    best_model.config = best_config
    return best_model, rows


def tune_gnn(
    data: Youshu, base: dict[str, float], grid: list[dict[str, float]], schedule: TrainConfig
) -> tuple[CrossViewBundleModel, TrainResult, list[Result]]:
    """Every ``grid`` change of ``base`` (dim, layers, lr, l2 and the model's loss knobs) trained; tune rows; the best by tune Recall@20."""
    rows: list[Result] = []
    best: tuple[float, CrossViewBundleModel, TrainResult] | None = None
    for change in grid:
        p = base | change
        config = BundleModelConfig(
            dim=int(p["dim"]), layers=int(p["layers"]), temperature=p["temperature"], cl_weight=p["cl_weight"],
            edge_drop=p["edge_drop"], seed=int(p["seed"]),
        )  # fmt: skip
        model, history = train_gnn(data, config, replace(schedule, lr=p["lr"], weight_decay=p["l2"]))
        tag = label("crosscbr", {k: p[k] for k in ("dim", "layers", "lr", "l2")})
        at_best = next(s for s in history.history if s.epoch == history.best_epoch).valid
        rows += [Result(tag, "tune", m, at_best[m]) for m in ("recall@20", "ndcg@20")]
        rows += [
            Result(tag, "tune", "best_epoch", history.best_epoch),
            Result(tag, "tune", "epochs", len(history.history)),
        ]
        print(f"{tag}: tune recall@20 {at_best['recall@20']:.4f} at epoch {history.best_epoch}", flush=True)
        if best is None or at_best["recall@20"] > best[0]:
            best = (at_best["recall@20"], model, history)
    assert best is not None
    return best[1], best[2], rows


def tune_fusion(
    gnn: RecModel, ease: BundleEASE, data: Youshu, train: Interactions, weights: list[tuple[float, float]]
) -> tuple[FusedBundleModel, list[Result]]:
    """``gnn``: every ``(ease_weight, pop_weight)`` on tune (rows); the best by tune Recall@20 is kept."""
    users = torch.arange(data.num_users)
    with torch.no_grad():  # the standardised parts once: 8,039 x 4,771 floats each
        z_gnn = torch.cat([standardise(gnn.score_all(u).float()) for u in users.split(2048)])
        z_ease = torch.cat([standardise(ease.score_all(u)) for u in users.split(2048)])
    rows: list[Result] = []
    best: tuple[float, FusedBundleModel | None] = (-1.0, None)
    for ease_weight, pop_weight in weights:
        fused = FusedBundleModel(gnn, ease, train, ease_weight, pop_weight)

        def score(u: Tensor, f: FusedBundleModel = fused) -> Tensor:
            return z_gnn[u] + f.ease_weight * z_ease[u] + f.pop_weight * f.log_pop

        m = evaluate(score, data.num_bundles, data.train, data.tune)
        print(f"gnn ease {ease_weight} pop {pop_weight}: tune recall@20 {m['recall@20']:.4f}", flush=True)
        rows += [Result(label("gnn", {"ease": ease_weight, "pop": pop_weight}), "tune", k, v) for k, v in m.items()]
        if m["recall@20"] > best[0]:
            best = (m["recall@20"], fused)
    assert best[1] is not None
    return best[1], rows


def main(
    epochs: int = 100,
    dim: int = 64,
    layers: int = 1,
    lr: float = 3e-3,
    l2: float = 1e-4,
    cl_weight: float = 0.04,
    temperature: float = 0.25,
    edge_drop: float = 0.2,
    batch_size: int = 2048,
    eval_every: int = 2,
    patience: int = 4,
    seed: int = 42,
    threads: int = 2,
    out: Path = RESULTS,
    tag: str = "",
) -> None:
    """Train and evaluate every model; write <out>/bundle-youshu[-tag].json."""
    config_record = dict(locals())
    torch.set_num_threads(threads)
    data = load_youshu()
    print(
        f"Youshu: {data.num_users} users, {data.num_bundles} bundles, {data.num_items} items; "
        f"train/tune/test {data.train.shape[1]}/{data.tune.shape[1]}/{data.test.shape[1]}"
    )
    train = Interactions(data.num_users, data.num_bundles, torch.from_numpy(data.train))
    results: list[Result] = []

    def tested(name: str, score_all: ScoreAll, tune: dict[str, float] | None = None) -> list[Result]:
        tune = tune or evaluate(score_all, data.num_bundles, data.train, data.tune)
        test = evaluate(score_all, data.num_bundles, data.train, data.test)
        return [Result(name, "tune", k, v) for k, v in tune.items()] + [
            Result(name, "test", k, v) for k, v in test.items()
        ]

    baselines: list[RecModel] = [Popularity(), ItemOverlap(data)]
    for baseline in baselines:
        baseline.fit(train)
        results += tested(baseline.name, baseline.score_all)
    ease, grid_rows = tune_ease(data, train)
    results += grid_rows + tested(ease.name, ease.score_all)
    schedule = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=l2,
        num_negatives=1,
        patience=patience,
        eval_every=eval_every,
        k=KS[0],
        seed=seed,
        device="cpu",
        progress=False,
        verbose=True,
    )
    base = {"dim": dim, "layers": layers, "lr": lr, "l2": l2, "temperature": temperature}
    base |= {"cl_weight": cl_weight, "edge_drop": edge_drop, "seed": seed}
    model, history, gnn_rows = tune_gnn(data, base, GNN_GRID, schedule)
    results += gnn_rows
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), CACHE / f"bundle-youshu-{model.name}{tag and '-' + tag}.pt")
    name = model.name
    results += tested(name, model.score_all)
    with torch.no_grad():  # the score a NEW bundle gets: items only, no bundle node
        u_i, _, b_i, u_b, _ = model.views(training=False)
    results += tested(f"{name}-item-view", lambda u: (u_i[u] + u_b[u]) @ b_i.T)
    fused, fusion_rows = tune_fusion(model, ease, data, train, FUSION_GRID)
    results += fusion_rows + tested("gnn", fused.score_all)
    results += [
        Result("gnn", "tune", "ease_weight", fused.ease_weight),
        Result("gnn", "tune", "pop_weight", fused.pop_weight),
    ]
    for who in (name, "gnn"):
        results += [
            Result(who, "train", "epoch_s", history.epoch_seconds),
            Result(who, "train", "epochs", len(history.history)),
            Result(who, "train", "best_epoch", history.best_epoch),
            Result(who, "train", "train_s", history.seconds),
        ]
    write_results(
        "bundle-youshu" + (f"-{tag}" if tag else ""),
        "youshu",
        results,
        seeds=[seed],
        threads=threads,
        config=config_record,
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

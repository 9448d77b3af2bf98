"""Bundle recommendation on Youshu (BGCN/CrossCBR release): rank all 4,771 bundles per test user.

Protocol (CrossCBR's official code): train on ``user_bundle_train``, pick the epoch on
``user_bundle_tune`` (Recall@20), report ``user_bundle_test`` with the training bundles masked.
Recall@20 / NDCG@20 from ``gnn.metrics`` (binary relevance, log2(rank+1), DCG/IDCG).

    .venv/bin/python -m bench.bundle_youshu                            # the reported run
    .venv/bin/python -m bench.bundle_youshu --epochs 2 --out /tmp      # smoke run

Models: ``crosscbr`` (gnn.models.bundle_gnn.CrossViewBundleModel, trained by
``gnn.train.train_model``: early stopping on tune Recall@20 every ``eval_every`` epochs),
``popularity`` (training bundle counts), ``item-overlap`` (share of the bundle's items the user
interacted with) and ``crosscbr+popularity`` (the GNN score plus alpha * log(1 + training count),
alpha chosen on tune). ``crosscbr-item-view`` is the same trained GNN scoring every bundle as if it were new (from its items
only, ``score_new_bundles``): how well unseen bundles are ranked without retraining.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bench.common import CACHE, RESULTS, SHARED_DATA, Result, run, write_results
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.graph_ops import mean_pool_matrix
from kgrec.gnn.metrics import RankingAccumulator
from kgrec.gnn.models.baselines import Popularity
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
from kgrec.gnn.train import TrainConfig, TrainResult, train_model

DATA = SHARED_DATA / "youshu"
KS = (20,)
ScoreAll = Callable[[Tensor], Tensor]


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


def popularity_fusion(model: CrossViewBundleModel, data: Youshu, train: Interactions) -> list[Result]:
    """``crosscbr+popularity``: :math:`s + \\alpha \\log(1 + n_b)`, alpha chosen on tune (never test)."""
    log_pop = torch.log1p(torch.bincount(train.edge_index[1], minlength=data.num_bundles).float())
    best: tuple[float, float, dict[str, float]] = (-1.0, 0.0, {})
    for alpha in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8):

        def fused(u: Tensor, a: float = alpha) -> Tensor:
            return model.score_all(u) + a * log_pop

        m = evaluate(fused, data.num_bundles, data.train, data.tune)
        print(f"crosscbr+popularity alpha {alpha}: tune recall@20 {m['recall@20']:.4f}")
        if m["recall@20"] > best[0]:
            best = (m["recall@20"], alpha, m)
    alpha = best[1]
    test = evaluate(lambda u: model.score_all(u) + alpha * log_pop, data.num_bundles, data.train, data.test)
    name = f"{CrossViewBundleModel.name}+popularity"
    return (
        [Result(name, "tune", k, v) for k, v in best[2].items()]
        + [Result(name, "test", k, v) for k, v in test.items()]
        + [Result(name, "tune", "alpha", alpha)]
    )


def main(
    epochs: int = 250,
    dim: int = 64,
    layers: int = 1,
    lr: float = 1e-3,
    l2: float = 1e-4,
    cl_weight: float = 0.04,
    temperature: float = 0.25,
    edge_drop: float = 0.2,
    batch_size: int = 2048,
    eval_every: int = 4,
    patience: int = 6,
    seed: int = 42,
    threads: int = 1,
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
    baselines: list[RecModel] = [Popularity(), ItemOverlap(data)]
    for baseline in baselines:
        baseline.fit(train)
        for split, target in (("tune", data.tune), ("test", data.test)):
            m = evaluate(baseline.score_all, data.num_bundles, data.train, target)
            results += [Result(baseline.name, split, k, v) for k, v in m.items()]
    config = BundleModelConfig(
        dim=dim, layers=layers, temperature=temperature, cl_weight=cl_weight, edge_drop=edge_drop, seed=seed
    )
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
    model, history = train_gnn(data, config, schedule)
    test = evaluate(model.score_all, data.num_bundles, data.train, data.test)
    tune = evaluate(model.score_all, data.num_bundles, data.train, data.tune)
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), CACHE / f"bundle-youshu-{model.name}{tag and '-' + tag}.pt")
    name = model.name
    results += [Result(name, "tune", k, v) for k, v in tune.items()]
    results += [Result(name, "test", k, v) for k, v in test.items()]
    results += popularity_fusion(model, data, train)
    with torch.no_grad():  # the score a NEW bundle gets: items only, no bundle node
        u_i, _, b_i, u_b, _ = model.views(training=False)
    for split, target in (("tune", data.tune), ("test", data.test)):
        m = evaluate(lambda u: (u_i[u] + u_b[u]) @ b_i.T, data.num_bundles, data.train, target)
        results += [Result(f"{name}-item-view", split, k, v) for k, v in m.items()]
    results += [
        Result(name, "train", "epoch_s", history.epoch_seconds),
        Result(name, "train", "epochs", len(history.history)),
        Result(name, "train", "best_epoch", history.best_epoch),
        Result(name, "train", "train_s", history.seconds),
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

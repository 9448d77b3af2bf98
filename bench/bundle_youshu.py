"""Bundle recommendation on Youshu (BGCN/CrossCBR release): rank all 4,771 bundles per test user.

Protocol (CrossCBR's official code): train on ``user_bundle_train``, pick the epoch on
``user_bundle_tune`` (Recall@20), report ``user_bundle_test`` with the training bundles masked.
Recall@20 / NDCG@20 from ``gnn.metrics`` (binary relevance, log2(rank+1), DCG/IDCG).

    .venv/bin/python -m bench.bundle_youshu                 # CrossCBR defaults, ~100 epochs
    .venv/bin/python -m bench.bundle_youshu --epochs 5      # smoke run

Models: ``gnn`` (gnn.models.bundle_gnn.CrossViewBundleModel), ``popularity`` (training bundle
counts), ``item-overlap`` (share of the bundle's items the user interacted with) and
``gnn+popularity`` (the GNN score plus alpha * log(1 + training count), alpha chosen on tune).
``gnn-item-view`` is the same trained GNN scoring every bundle as if it were new (from its items
only, ``score_new_bundles``): how well unseen bundles are ranked without retraining.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import typer

from bench.common import ROOT, SHARED_DATA, Result, write_results
from kgrec.gnn.contract import Interactions, RecModel
from kgrec.gnn.metrics import RankingAccumulator
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel

DATA = SHARED_DATA / "youshu"
KS = (20,)
CACHE = ROOT / ".kgrec" / "bench-cache"


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
        *sizes,
        pairs("user_item.txt"),
        pairs("bundle_item.txt"),
        pairs("user_bundle_train.txt"),
        pairs("user_bundle_tune.txt"),
        pairs("user_bundle_test.txt"),
    )


def evaluate(score_all, num_bundles: int, mask: np.ndarray, target: np.ndarray, batch: int = 2048) -> dict[str, float]:
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


class Popularity(RecModel):
    trainable = False
    name = "popularity"

    def __init__(self, num_bundles: int) -> None:
        super().__init__()
        self.counts = torch.zeros(num_bundles)

    def fit(self, train: Interactions) -> None:
        self.counts = torch.bincount(train.edge_index[1], minlength=train.num_items).float()

    def score(self, users, items):
        return self.counts[items]

    def score_all(self, users):
        return self.counts.expand(len(users), -1)


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
        size = np.bincount(bi[0], minlength=data.num_bundles).clip(min=1)
        self.bi = torch.sparse_coo_tensor(
            torch.from_numpy(bi), torch.from_numpy(1.0 / size[bi[0]]).float(), (data.num_bundles, data.num_items)
        ).coalesce()
        self.pop = torch.zeros(data.num_bundles)

    def fit(self, train: Interactions) -> None:
        counts = torch.bincount(train.edge_index[1], minlength=train.num_items).float()
        self.pop = 1e-3 * counts / counts.max()

    def score(self, users, items):
        return self.score_all(users)[torch.arange(len(users)), items]

    def score_all(self, users):
        rows = self.ui.index_select(0, users).to_dense()
        return torch.sparse.mm(self.bi, rows.T).T + self.pop


def train_gnn(
    data: Youshu,
    config: BundleModelConfig,
    epochs: int,
    lr: float,
    l2: float,
    batch_size: int,
    eval_every: int,
    patience: int,
    budget_s: float,
    log=print,
) -> tuple[CrossViewBundleModel, dict[str, float], float, int]:
    """Train with early stopping on tune; returns (best model, tune metrics, epoch_s, epochs)."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = CrossViewBundleModel(
        data.num_users,
        data.num_bundles,
        data.num_items,
        torch.from_numpy(data.user_item),
        torch.from_numpy(data.bundle_item),
        config,
    )
    train = Interactions(data.num_users, data.num_bundles, torch.from_numpy(data.train))
    model.fit(train)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=l2)
    best, best_state, bad, epoch_times, started = -1.0, None, 0, [], time.time()
    tune_metrics: dict[str, float] = {}
    epoch = 0
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        loss = model.train_epoch(opt, rng, batch_size)
        epoch_times.append(time.time() - t0)
        if epoch % eval_every == 0 or epoch == epochs:
            model.eval()
            metrics = evaluate(model.score_all, data.num_bundles, data.train, data.tune)
            log(
                f"epoch {epoch:3d} loss {loss:.4f} tune recall@20 "
                f"{metrics['recall@20']:.4f} ndcg@20 {metrics['ndcg@20']:.4f} "
                f"({np.mean(epoch_times):.2f}s/epoch)"
            )
            if metrics["recall@20"] > best:
                best, bad, tune_metrics = metrics["recall@20"], 0, metrics
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    log(f"early stop at epoch {epoch} (no tune gain in {patience} evaluations)")
                    break
        if time.time() - started > budget_s:
            log(f"time budget of {budget_s:.0f}s reached at epoch {epoch}")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, tune_metrics, float(np.mean(epoch_times)), epoch


def popularity_fusion(model: CrossViewBundleModel, data: Youshu, train: Interactions) -> list[Result]:
    """``gnn+popularity``: :math:`s + \\alpha \\log(1 + n_b)`, alpha chosen on tune (never test)."""
    log_pop = torch.log1p(torch.bincount(train.edge_index[1], minlength=data.num_bundles).float())
    best: tuple[float, float, dict[str, float]] = (-1.0, 0.0, {})
    for alpha in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8):
        m = evaluate(lambda u, a=alpha: model.score_all(u) + a * log_pop, data.num_bundles, data.train, data.tune)
        print(f"gnn+popularity alpha {alpha}: tune recall@20 {m['recall@20']:.4f}")
        if m["recall@20"] > best[0]:
            best = (m["recall@20"], alpha, m)
    alpha = best[1]
    test = evaluate(lambda u: model.score_all(u) + alpha * log_pop, data.num_bundles, data.train, data.test)
    name = "gnn+popularity"
    return (
        [Result(name, "tune", k, v) for k, v in best[2].items()]
        + [Result(name, "test", k, v) for k, v in test.items()]
        + [Result(name, "tune", "alpha", alpha)]
    )


def main(
    epochs: int = 100,
    dim: int = 64,
    layers: int = 1,
    lr: float = 1e-3,
    l2: float = 1e-4,
    cl_weight: float = 0.04,
    temperature: float = 0.25,
    edge_drop: float = 0.2,
    batch_size: int = 2048,
    eval_every: int = 5,
    patience: int = 4,
    budget_s: float = 1500.0,
    seed: int = 42,
    threads: int = 2,
    write: bool = True,
    tag: str = "",
) -> None:
    """Train and evaluate every model; write bench/results/bundle-youshu.json."""
    torch.set_num_threads(threads)
    data = load_youshu()
    print(
        f"Youshu: {data.num_users} users, {data.num_bundles} bundles, {data.num_items} items; "
        f"train/tune/test {data.train.shape[1]}/{data.tune.shape[1]}/{data.test.shape[1]}"
    )
    train = Interactions(data.num_users, data.num_bundles, torch.from_numpy(data.train))
    results: list[Result] = []
    for baseline in (Popularity(data.num_bundles), ItemOverlap(data)):
        baseline.fit(train)
        for split, target in (("tune", data.tune), ("test", data.test)):
            m = evaluate(baseline.score_all, data.num_bundles, data.train, target)
            results += [Result(baseline.name, split, k, v) for k, v in m.items()]
    config = BundleModelConfig(
        dim=dim, layers=layers, temperature=temperature, cl_weight=cl_weight, edge_drop=edge_drop, seed=seed
    )
    t0 = time.time()
    model, tune, epoch_s, ran = train_gnn(data, config, epochs, lr, l2, batch_size, eval_every, patience, budget_s)
    train_s = time.time() - t0
    test = evaluate(model.score_all, data.num_bundles, data.train, data.test)
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), CACHE / f"bundle-youshu-gnn{tag and '-' + tag}.pt")
    results += [Result("gnn", "tune", k, v) for k, v in tune.items()]
    results += [Result("gnn", "test", k, v) for k, v in test.items()]
    results += popularity_fusion(model, data, train)
    with torch.no_grad():  # the score a NEW bundle gets: items only, no bundle node
        u_i, _, b_i, u_b, _ = model.views(training=False)
    for split, target in (("tune", data.tune), ("test", data.test)):
        m = evaluate(lambda u: (u_i[u] + u_b[u]) @ b_i.T, data.num_bundles, data.train, target)
        results += [Result("gnn-item-view", split, k, v) for k, v in m.items()]
    results += [
        Result("gnn", "train", "epoch_s", epoch_s),
        Result("gnn", "train", "epochs", ran),
        Result("gnn", "train", "train_s", train_s),
    ]
    if write:
        write_results("bundle-youshu" + (f"-{tag}" if tag else ""), "youshu", results)
    else:
        from bench.common import print_table

        print_table("bundle-youshu (not written)", results)


if __name__ == "__main__":
    typer.run(main)

"""Amazon-Book (KGAT split): full ranking of 24,915 items for 70,679 users.

    .venv/bin/python bench/rank_amazon_book.py [--budget-s 1200] [--models popularity,itemknn,lightgcn]

Validation: a seeded random 10% of each user's train items (users with >= 5 train items, so at
least 1 is held out) is held out for model selection / early stopping; test is the official
``test.txt`` with the full ``train.txt`` masked. LightGCN is trained on train-minus-valid with a
time budget; the epoch with the best validation Recall@20 is kept and, for test, propagated over
the full training graph (the same embeddings; the held-out 10% re-enter the graph, not the
weights). Baselines are fitted on train-minus-valid for ``valid`` and on full train for ``test``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, SHARED_DATA, Result, write_results
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel, TrainBatch
from kgrec.gnn.evaluate import RankingReport, evaluate
from kgrec.gnn.models.baselines import ItemKNN, Popularity
from kgrec.gnn.models.lightgcn import LightGCNRec

DATA = SHARED_DATA / "amazon-book-kgat"
REPORTED = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr")


def read_kgat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``user item item ...`` lines → (users, items) arrays."""
    users, items = [], []
    for line in path.read_text().splitlines():
        ids = line.split()
        if len(ids) > 1:
            users.extend([int(ids[0])] * (len(ids) - 1))
            items.extend(int(x) for x in ids[1:])
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)


def holdout_valid(
    users: np.ndarray, items: np.ndarray, frac: float = 0.1, min_items: int = 5, seed: int = 0
) -> np.ndarray:
    """Boolean mask of the pairs held out for validation (per user, seeded)."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(users)), users))  # random order within each user
    u_sorted = users[order]
    starts = np.searchsorted(u_sorted, u_sorted, side="left")
    rank = np.arange(len(users)) - starts
    counts = np.bincount(users)[u_sorted]
    n_valid = np.where(counts >= min_items, np.maximum(1, np.round(frac * counts)), 0)
    mask = np.zeros(len(users), dtype=bool)
    mask[order] = rank < n_valid
    return mask


def load_split(seed: int = 0) -> tuple[LinkSplit, Interactions]:
    """(train-minus-valid / valid / test split, full train) over the KGAT id space."""
    tu, ti = read_kgat(DATA / "train.txt")
    su, si = read_kgat(DATA / "test.txt")
    nu, ni = int(max(tu.max(), su.max())) + 1, int(max(ti.max(), si.max())) + 1
    hold = holdout_valid(tu, ti, seed=seed)

    def inter(u: np.ndarray, i: np.ndarray) -> Interactions:
        return Interactions(nu, ni, torch.from_numpy(np.stack([u, i])))

    split = LinkSplit(inter(tu[~hold], ti[~hold]), inter(tu[hold], ti[hold]), inter(su, si))
    return split, inter(tu, ti)


class NegativeSampler:
    """Uniform negatives, resampled (a few rounds) when they hit a training positive."""

    def __init__(self, train: Interactions, seed: int = 0) -> None:
        self.n = train.num_items
        self.keys = torch.unique(train.edge_index[0] * self.n + train.edge_index[1])
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, users: torch.Tensor) -> torch.Tensor:
        neg = torch.randint(0, self.n, (users.numel(),), generator=self.gen)
        for _ in range(3):
            key = users * self.n + neg
            pos = torch.searchsorted(self.keys, key).clamp(max=self.keys.numel() - 1)
            hit = self.keys[pos] == key
            if not hit.any():
                break
            neg[hit] = torch.randint(0, self.n, (int(hit.sum()),), generator=self.gen)
        return neg


@dataclass
class BprHistory:
    """What a BPR run did: epochs, seconds per epoch, validation reports."""

    epochs: int = 0
    epoch_s: list[float] = field(default_factory=list)
    valid: list[tuple[int, RankingReport]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -1.0


def train_bpr(
    model: RecModel,
    split: LinkSplit,
    *,
    max_epochs: int = 1000,
    batch_size: int = 32768,
    lr: float = 0.01,
    budget_s: float = 1200.0,
    eval_every: int = 4,
    patience: int = 3,
    metric: str = "recall@20",
    valid_users: int | None = 10_000,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> BprHistory:
    """Generic BPR loop with early stopping on ``valid``; leaves the best state loaded.

    During training, validation ranks a fixed seeded sample of ``valid_users`` users (all when
    None) to keep evaluation cheap; callers report the full validation split afterwards.
    """
    torch.manual_seed(seed)
    monitor = split if valid_users is None else sample_valid_users(split, valid_users, seed)
    model.fit(split.train)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sampler = NegativeSampler(split.train, seed)
    users, items = split.train.edge_index.long()
    hist, best_state, bad, start = BprHistory(), None, 0, time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(1, max_epochs + 1):
        model.train()
        t0, total = time.perf_counter(), 0.0
        perm = torch.randperm(users.numel(), generator=gen)
        for idx in perm.split(batch_size):
            batch = TrainBatch(users[idx], items[idx], sampler(users[idx]))
            loss = model.loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        hist.epochs = epoch
        hist.epoch_s.append(time.perf_counter() - t0)
        out_of_time = time.perf_counter() - start > budget_s
        if epoch % eval_every == 0 or out_of_time:
            report = evaluate(model, monitor, "valid")
            hist.valid.append((epoch, report))
            log(f"epoch {epoch} loss {total / users.numel():.4f} {hist.epoch_s[-1]:.1f}s/epoch {report.summary()}")
            if report[metric] > hist.best_score:
                hist.best_score, hist.best_epoch, bad = report[metric], epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                bad += 1
            if bad >= patience:
                log(f"early stop: no {metric} gain in {patience} evaluations")
                break
        if out_of_time:
            log(f"time budget of {budget_s:.0f}s reached after {epoch} epochs")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return hist


def sample_valid_users(split: LinkSplit, n: int, seed: int = 0) -> LinkSplit:
    """The split with ``valid`` restricted to a seeded sample of ``n`` of its users."""
    users = split.valid.users()
    if users.numel() <= n:
        return split
    gen = torch.Generator().manual_seed(seed)
    keep = users[torch.randperm(users.numel(), generator=gen)[:n]]
    ei = split.valid.edge_index
    valid = Interactions(split.valid.num_users, split.valid.num_items, ei[:, torch.isin(ei[0], keep)])
    return LinkSplit(split.train, valid, split.test)


def merged(results: list[Result], models: list[str]) -> list[Result]:
    """The existing results file's rows of other models (read now) followed by ``results``."""
    path = RESULTS / "rank-amazon-book.json"
    old = json.loads(path.read_text())["results"] if path.exists() else []
    return [Result(**r) for r in old if r["model"] not in models] + results


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rows(model: str, report: RankingReport) -> list[Result]:
    out = [Result(model, report.split, m, report[m]) for m in REPORTED]
    return [*out, Result(model, report.split, "eval_s", report.eval_s)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="popularity,lightgcn,itemknn")
    ap.add_argument("--budget-s", type=float, default=1200.0, help="LightGCN training time box")
    ap.add_argument("--batch-size", type=int, default=32768)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--eval-every", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--merge", action="store_true", help="keep the other models' rows of an existing results file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    split, full_train = load_split()
    print(
        f"users {split.train.num_users} items {split.train.num_items} train {full_train.num_edges}"
        f" (fit {split.train.num_edges}, valid {split.valid.num_edges}) test {split.test.num_edges}"
    )
    results: list[Result] = []
    test_split = LinkSplit(
        full_train,
        Interactions(full_train.num_users, full_train.num_items, torch.empty(2, 0, dtype=torch.long)),
        split.test,
    )
    for name in args.models.split(","):
        if name in ("popularity", "itemknn"):
            model: RecModel = Popularity() if name == "popularity" else ItemKNN(k=100)
            t0 = time.perf_counter()
            model.fit(split.train)
            valid = evaluate(model, split, "valid")
            model.fit(full_train)
            fit_s = time.perf_counter() - t0
            test = evaluate(model, test_split, "test")
            results += rows(name, valid) + rows(name, test)
            results.append(Result(name, "test", "fit_s", fit_s))
        elif name == "lightgcn":
            model = LightGCNRec(full_train.num_users, full_train.num_items, args.dim, args.layers)
            hist = train_bpr(
                model, split, batch_size=args.batch_size, lr=args.lr, budget_s=args.budget_s, eval_every=args.eval_every
            )
            valid = evaluate(model, split, "valid")  # best state, all validation users
            model.fit(full_train)  # test-time graph = all training interactions
            model.eval()
            test = evaluate(model, test_split, "test")
            results += rows(name, valid) + rows(name, test)
            results += [
                Result(name, "test", "epoch_s", float(np.mean(hist.epoch_s))),
                Result(name, "test", "epochs", float(hist.epochs)),
                Result(name, "test", "best_epoch", float(hist.best_epoch)),
            ]
        else:
            raise SystemExit(f"unknown model {name!r}")
        results.append(Result(name, "test", "peak_rss_mb", peak_rss_mb()))
        results.append(Result(name, "test", "load_avg_1m", os.getloadavg()[0]))  # shared machine
        print(f"{name}: valid {valid.summary()} | test {test.summary()}", flush=True)
        write_results(
            "rank-amazon-book", "amazon-book-kgat", merged(results, args.models.split(",")) if args.merge else results
        )


if __name__ == "__main__":
    main()

"""Amazon-Book (KGAT split): full ranking of 24,915 items for 70,679 users.

    .venv/bin/python -m bench.rank_amazon_book                       # the reported run
    .venv/bin/python -m bench.rank_amazon_book --models popularity --out /tmp   # smoke run

Validation: a seeded random 10% of each user's train items (users with >= 5 train items, so at
least 1 is held out) is held out for model selection / early stopping; test is the official
``test.txt`` with the full ``train.txt`` masked. LightGCN is trained on train-minus-valid by ``gnn.train.train_model``
for at most ``epochs`` epochs (validation on a seeded sample of ``valid_users`` users every
``eval_every`` epochs, ``patience`` evaluations); the epoch with the best validation Recall@20 is kept and, for test, propagated over
the full training graph (the same embeddings; the held-out 10% re-enter the graph, not the
weights). Baselines are fitted on train-minus-valid for ``valid`` and on full train for ``test``.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import RESULTS, SHARED_DATA, Result, merged, run, write_results
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.evaluate import RankingReport, evaluate
from kgrec.gnn.models.baselines import ItemKNN, ItemKNNConfig, Popularity
from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
from kgrec.gnn.train import TrainConfig, Validation, train_model

DATA = SHARED_DATA / "amazon-book-kgat"
REPORTED = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr")


def read_kgat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``user item item ...`` lines → (users, items) arrays."""
    users: list[int] = []
    items: list[int] = []
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rows(model: str, report: RankingReport) -> list[Result]:
    out = [Result(model, report.split, m, report[m]) for m in REPORTED]
    return [*out, Result(model, report.split, "eval_s", report.eval_s)]


def main(
    models: str = "popularity,lightgcn,itemknn",
    epochs: int = 61,
    batch_size: int = 32768,
    lr: float = 0.01,
    dim: int = 64,
    layers: int = 3,
    eval_every: int = 3,
    patience: int = 3,
    valid_users: int = 10_000,
    seed: int = 0,
    threads: int = 1,
    merge: bool = False,
    out: Path = RESULTS,
) -> None:
    """Fit/train each model, evaluate valid and test; writes <out>/rank-amazon-book.json after each model."""
    config_record = dict(locals())
    torch.set_num_threads(threads)
    split, full_train = load_split(seed)
    print(
        f"users {split.train.num_users} items {split.train.num_items} train {full_train.num_edges}"
        f" (fit {split.train.num_edges}, valid {split.valid.num_edges}) test {split.test.num_edges}"
    )
    names = models.split(",")
    results: list[Result] = []
    test_split = LinkSplit(
        full_train,
        Interactions(full_train.num_users, full_train.num_items, torch.empty(2, 0, dtype=torch.long)),
        split.test,
    )
    for name in names:
        if name in ("popularity", "itemknn"):
            model: RecModel = Popularity() if name == "popularity" else ItemKNN(ItemKNNConfig(k=100))
            t0 = time.perf_counter()
            model.fit(split.train)
            valid = evaluate(model, split, "valid")
            model.fit(full_train)
            fit_s = time.perf_counter() - t0
            test = evaluate(model, test_split, "test")
            results += rows(name, valid) + rows(name, test)
            results.append(Result(name, "test", "fit_s", fit_s))
        elif name == "lightgcn":
            gcn = LightGCNRec(full_train.num_users, full_train.num_items, LightGCNConfig(dim, layers))
            gcn.fit(split.train)
            monitor = sample_valid_users(split, valid_users, seed)

            def sampled_valid(model: RecModel = gcn, sample: LinkSplit = monitor) -> dict[str, float]:
                return evaluate(model, sample, "valid").metrics

            check = Validation(sampled_valid, "recall@20")
            schedule = TrainConfig(
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                weight_decay=0.0,  # LightGCN regularises its layer-0 embeddings itself
                num_negatives=1,
                patience=patience,
                eval_every=eval_every,
                seed=seed,
                device="cpu",
                progress=False,
                verbose=True,
            )
            hist = train_model(gcn, split, schedule, validation=check)
            valid = evaluate(gcn, split, "valid")  # best state, all validation users
            gcn.fit(full_train)  # test-time graph = all training interactions
            gcn.eval()
            test = evaluate(gcn, test_split, "test")
            results += rows(name, valid) + rows(name, test)
            results += [
                Result(name, "test", "epoch_s", hist.epoch_seconds),
                Result(name, "test", "epochs", float(len(hist.history))),
                Result(name, "test", "best_epoch", float(hist.best_epoch)),
            ]
        else:
            raise SystemExit(f"unknown model {name!r}: use popularity, itemknn or lightgcn")
        results.append(Result(name, "test", "peak_rss_mb", peak_rss_mb()))
        results.append(Result(name, "test", "load_avg_1m", os.getloadavg()[0]))  # shared machine
        print(f"{name}: valid {valid.summary()} | test {test.summary()}", flush=True)
        write_results(
            "rank-amazon-book",
            "amazon-book-kgat",
            merged(results, names, out / "rank-amazon-book.json") if merge else results,
            seeds=[seed],
            threads=threads,
            config=config_record,
            out_dir=out,
        )


if __name__ == "__main__":
    run(main)

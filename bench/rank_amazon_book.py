"""Amazon-Book (KGAT split): full ranking of 24,915 items for 70,679 users; tune on valid, refit, test once.

    .venv/bin/python -m bench.rank_amazon_book                                    # the reported run
    .venv/bin/python -m bench.rank_amazon_book --models popularity --out /tmp     # smoke run

Validation: a seeded random 10% of each user's ``train.txt`` items (users with >= 5 train items, so
at least 1 is held out) is held out; ``fit`` = train.txt minus those pairs. Every configuration of
``GRIDS`` is fitted (or trained) on ``fit`` and scored on the same seeded sample of ``valid_users``
validation users (rows ``data/valid/scored_users``, ``scored_pairs``; one row per configuration,
model ``name[params]``); trainable models also early-stop on that sample. The configuration with the best validation Recall@20 is
refitted on all of ``train.txt`` (trainable models: retrained from scratch for their best
validation epoch count) and scored once on ``test.txt`` with all of ``train.txt`` masked.

Models: ``popularity``, ``itemknn``, ``rp3beta``, ``ease`` (float32 Cholesky, ``baselines.ease_matrix``),
``lightgcn`` (BPR, early stopping on a seeded sample of ``valid_users`` validation users every
``eval_every`` epochs), and ``gnn`` = the served KGCF in its id-only form (Amazon-Book has no text,
no knowledge-graph file, no timestamps: the graph is users + items, no trend) fused with EASE at the
tuned λ, the fusion weight chosen on validation (``KGCF.tune_fusion``) as in serving; ``gnn_only``
is its GNN part alone (same weights). Rows ``gnn-vs-<best>``: paired bootstrap (10,000 resamples of
test users) of gnn minus the best baseline by test Recall@20 (``bench.refit_eval``).

All models' validation work runs first, then the refits and tests, so at most one dense EASE matrix
(2.5 GB) is alive at a time. Budgets are in epochs; ``epoch_s`` is training time per epoch.
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.common import CACHE, RESULTS, SHARED_DATA, Result, run, write_results
from bench.refit_eval import K, bootstrap_rows, per_user, rows
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.evaluate import RankingReport, evaluate
from kgrec.gnn.graph_ops import interaction_matrix
from kgrec.gnn.models.baselines import EASE, EASEConfig, ItemKNN, ItemKNNConfig, Popularity, ease_matrix
from kgrec.gnn.models.kgcf import KGCF, KGCFConfig
from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
from kgrec.gnn.models.rp3beta import RP3beta, RP3betaConfig
from kgrec.gnn.train import TrainConfig, TrainResult, Validation, set_seed, train_model

DATA = SHARED_DATA / "amazon-book-kgat"
BASELINES = ("popularity", "itemknn", "rp3beta", "ease", "lightgcn")
GRIDS: dict[str, list[dict[str, Any]]] = {
    "popularity": [{}],
    "itemknn": [{"k": k, "shrink": h} for k in (100, 200) for h in (0.0, 20.0)],
    "rp3beta": [{"alpha": a, "beta": b} for a in (0.8, 1.0) for b in (0.4, 0.6)],
    "ease": [{"l2": v} for v in (150.0, 500.0)],  # one dense 24,915^2 Cholesky solve each
    # trained to convergence: lr 0.05 at 32,768 triples per step peaks near epoch 20 (lr 0.01 was still climbing
    # at the 30-epoch budget); "lr" and "epochs" are the trainer's, the rest LightGCN's
    "lightgcn": [{"num_layers": n, "lr": 0.05, "epochs": 60} for n in (3, 2)],
}
FUSE_GRID = (0.0, 0.5, 1.0, 2.0, 4.0)  # gnn: EASE weight next to the z-scored GNN (trend: none here)
# the served KGCF, id-only; the sampled softmax (uniform negatives from the trainer) instead of the full softmax
GNN_CONFIG = KGCFConfig(
    use_text=False, relations=(), objective="softmax", trend_weight=0.0, fuse_weight=1.0, id_dropout=0.0
)


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


def load_split(seed: int = 0) -> tuple[LinkSplit, LinkSplit]:
    """(fit / valid split of train.txt, full train.txt / test.txt split) over the KGAT id space."""
    tu, ti = read_kgat(DATA / "train.txt")
    su, si = read_kgat(DATA / "test.txt")
    nu, ni = int(max(tu.max(), su.max())) + 1, int(max(ti.max(), si.max())) + 1
    hold = holdout_valid(tu, ti, seed=seed)

    def inter(u: np.ndarray, i: np.ndarray) -> Interactions:
        return Interactions(nu, ni, torch.from_numpy(np.stack([u, i])))

    empty = inter(np.zeros(0, np.int64), np.zeros(0, np.int64))
    tune = LinkSplit(inter(tu[~hold], ti[~hold]), inter(tu[hold], ti[hold]), empty)
    return tune, LinkSplit(inter(tu, ti), empty, inter(su, si))


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


def label(name: str, params: dict[str, Any]) -> str:
    return name + ("[" + ",".join(f"{k}={v:g}" for k, v in params.items()) + "]" if params else "")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


TRAINER_PARAMS = ("lr", "epochs")


def trainer(schedule: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """``schedule`` with a grid point's trainer parameters (``lr``, ``epochs``)."""
    return replace(schedule, lr=params.get("lr", schedule.lr), epochs=params.get("epochs", schedule.epochs))


def build(name: str, params: dict[str, Any], num_users: int, num_items: int) -> RecModel:
    """An unfitted model of ``name`` with grid ``params`` (``TRAINER_PARAMS`` are the trainer's, not the model's)."""
    params = {k: v for k, v in params.items() if k not in TRAINER_PARAMS}
    if name == "popularity":
        return Popularity()
    if name == "itemknn":
        return ItemKNN(ItemKNNConfig(**params))
    if name == "rp3beta":
        return RP3beta(RP3betaConfig(**params))
    if name == "ease":
        return EASE(EASEConfig(max_items=max(num_items, 1), **params))
    if name == "lightgcn":
        return LightGCNRec(num_users, num_items, LightGCNConfig(**params))
    raise SystemExit(f"unknown model {name!r}: use {', '.join(BASELINES)} or gnn")


class Bench:
    """The run's state: splits, schedule, result rows; one method per phase."""

    def __init__(
        self, tune: LinkSplit, test: LinkSplit, schedule: TrainConfig, valid_users: int, seed: int, gnn_negatives: int
    ) -> None:
        self.tune, self.test, self.schedule, self.seed = tune, test, schedule, seed
        self.gnn_negatives = gnn_negatives
        self.monitor = sample_valid_users(tune, valid_users, seed)
        self.grid_split = self.monitor  # every grid point is scored on the same seeded validation users
        self.epoch_cpu_s = 0.0
        self.results: list[Result] = []
        self.per_user: dict[str, tuple[np.ndarray, ...]] = {}
        self.chosen: dict[str, dict[str, Any]] = {}
        self.ease_dir = CACHE / "amazon-book-ease"  # B matrices of the chosen λ, for the gnn's fusion

    def save_ease(self, which: str, model: RecModel) -> None:
        """Keep the EASE matrix of ``model`` on disk (2.5 GB) instead of in memory until the gnn needs it."""
        assert isinstance(model, EASE)
        self.ease_dir.mkdir(parents=True, exist_ok=True)
        torch.save(model.weights, self.ease_dir / f"{which}-{model.l2:g}.pt")

    def ease_for(self, which: str, split: LinkSplit, l2: float) -> tuple[Any, torch.Tensor]:
        """(X, B) of EASE(λ=l2) on ``split.train``: from this run's ease baseline, else computed."""
        x = interaction_matrix(split.train)
        path = self.ease_dir / f"{which}-{l2:g}.pt"
        return x, torch.load(path, weights_only=True) if path.exists() else ease_matrix(x, l2)

    def train(self, model: RecModel, split: LinkSplit, schedule: TrainConfig, monitor: bool) -> TrainResult:
        """Train with early stopping on the sampled validation users (``monitor``) or for every epoch.

        Also measures ``self.epoch_cpu_s``: process CPU seconds per epoch outside validation (all
        threads), which a shared machine's load does not inflate the way it inflates wall time."""
        set_seed(schedule.seed)
        model.fit(split.train)
        check = None
        in_valid = [0.0]
        if monitor:
            sample = self.monitor

            def sampled() -> dict[str, float]:
                c0 = time.process_time()
                out = evaluate(model, sample, "valid", ks=(K,)).metrics
                in_valid[0] += time.process_time() - c0
                return out

            check = Validation(sampled, f"recall@{K}")
        c0 = time.process_time()
        hist = train_model(model, split, schedule, validation=check)
        self.epoch_cpu_s = (time.process_time() - c0 - in_valid[0]) / max(len(hist.history), 1)
        return hist

    def fit_valid(self, name: str, params: dict[str, Any]) -> tuple[RecModel, RankingReport, dict[str, float]]:
        """Fit / train one configuration on ``fit``, score the whole validation split; its rows."""
        t0 = time.perf_counter()
        model = build(name, params, self.tune.train.num_users, self.tune.train.num_items)
        facts: dict[str, float] = {}
        if model.trainable:
            hist = self.train(model, self.tune, trainer(self.schedule, params), True)
            facts = {"best_epoch": float(hist.best_epoch), "epochs": float(len(hist.history))}
            facts["epoch_s"], facts["epoch_cpu_s"] = hist.epoch_seconds, self.epoch_cpu_s
        else:
            model.fit(self.tune.train)
        facts["fit_s"] = time.perf_counter() - t0
        report = evaluate(model, self.grid_split, "valid", ks=(K,))
        tag = label(name, params)
        self.results += [*rows(tag, report), Result(tag, "valid", "eval_s", report.eval_s)]
        self.results += [Result(tag, "valid", k, v) for k, v in facts.items()]
        print(f"{tag}: {report.summary(('recall@20', 'ndcg@20'))} {facts}", flush=True)
        return model, report, facts

    def test_once(self, name: str, model: RecModel) -> RankingReport:
        """The refitted model on test.txt (train.txt masked), once; per-user metrics kept for the bootstrap."""
        report = evaluate(model, self.test, "test", ks=(K,))
        self.results += [*rows(name, report), Result(name, "test", "eval_s", report.eval_s)]
        self.per_user[name] = per_user(model, self.test)
        self.results += [
            Result(name, "test", "peak_rss_mb", peak_rss_mb()),
            Result(name, "test", "load_avg_1m", os.getloadavg()[0]),  # shared machine
        ]
        print(f"{name}: {report.summary(('recall@20', 'ndcg@20'))}", flush=True)
        return report

    def baseline(self, name: str) -> None:
        """Grid on valid, the best refitted on train.txt and tested once."""
        best: tuple[float, dict[str, Any], dict[str, float]] | None = None
        for params in GRIDS[name]:
            model, report, facts = self.fit_valid(name, params)
            if best is None or report[f"recall@{K}"] > best[0]:
                best = (report[f"recall@{K}"], params, facts)
                if name == "ease":
                    self.save_ease("tune", model)
            del model
            gc.collect()
        assert best is not None
        score, params, facts = best
        self.chosen[name] = params
        self.results.append(Result(name, "test", "chosen_valid_recall@20", score))
        t0 = time.perf_counter()
        model = build(name, params, self.test.train.num_users, self.test.train.num_items)
        if model.trainable:
            epochs = max(int(facts["best_epoch"]), 1)
            schedule = replace(trainer(self.schedule, params), epochs=epochs, patience=10**6)
            hist = self.train(model, self.test, schedule, False)
            self.results += [Result(name, "test", "epoch_s", hist.epoch_seconds)]
            self.results += [Result(name, "test", "epoch_cpu_s", self.epoch_cpu_s)]
            self.results += [Result(name, "test", "epochs", float(len(hist.history)))]
        else:
            model.fit(self.test.train)
        self.results.append(Result(name, "test", "fit_s", time.perf_counter() - t0))
        print(f"{name}: chosen {params}", flush=True)
        if name == "ease":
            self.save_ease("test", model)
        self.test_once(name, model)
        del model
        gc.collect()

    def gnn(self, config: KGCFConfig, ease_l2: float) -> None:
        """KGCF id-only: trained on ``fit`` (early stopping on its GNN part), fusion weight on valid; retrained, tested."""
        num_users, num_items = self.tune.train.num_users, self.tune.train.num_items
        config = replace(config, ease_l2=ease_l2)
        t0 = time.perf_counter()
        model = KGCF(num_users, num_items, config=replace(config, fuse_weight=0.0))  # EASE attached after training
        schedule = replace(self.schedule, num_negatives=self.gnn_negatives)
        hist = self.train(model, self.tune, schedule, True)
        model.ease, model.config = self.ease_for("tune", self.tune, ease_l2), config
        self.results += [
            Result("gnn", "valid", "best_epoch", float(hist.best_epoch)),
            Result("gnn", "valid", "epochs", float(len(hist.history))),
            Result("gnn", "valid", "epoch_s", hist.epoch_seconds),
            Result("gnn", "valid", "epoch_cpu_s", self.epoch_cpu_s),
            Result("gnn", "valid", "fit_s", time.perf_counter() - t0),
        ]
        scores: dict[float, RankingReport] = {}

        def valid_recall() -> float:
            report = evaluate(model, self.grid_split, "valid", ks=(K,))
            scores[model.config.fuse_weight] = report
            return report[f"recall@{K}"]

        fusion = model.tune_fusion(valid_recall, fuse=FUSE_GRID, trend=(0.0,))
        for w, report in sorted(scores.items()):
            tag = "gnn_only" if w == 0 else f"gnn[fuse={w:g}]"
            self.results += [*rows(tag, report), Result(tag, "valid", "eval_s", report.eval_s)]
            print(f"{tag}: {report.summary(('recall@20', 'ndcg@20'))}", flush=True)
        self.results.append(Result("gnn", "test", "fuse_weight", fusion["fuse_weight"]))
        self.results.append(Result("gnn", "test", "chosen_valid_recall@20", fusion["valid"]))
        chosen = replace(config, fuse_weight=fusion["fuse_weight"], trend_weight=0.0)
        model.ease = None  # free the fit-split EASE matrix before the refit's
        gc.collect()
        # refit: retrained on all of train.txt for the best validation epoch count, EASE refitted there
        t0 = time.perf_counter()
        final = KGCF(num_users, num_items, config=replace(chosen, fuse_weight=0.0))
        epochs = max(hist.best_epoch, 1)
        again = self.train(final, self.test, replace(schedule, epochs=epochs, patience=10**6), False)
        if chosen.fuse_weight > 0:
            final.ease, final.config = self.ease_for("test", self.test, ease_l2), chosen
        self.results += [
            Result("gnn", "test", "epoch_s", again.epoch_seconds),
            Result("gnn", "test", "epoch_cpu_s", self.epoch_cpu_s),
            Result("gnn", "test", "epochs", float(len(again.history))),
            Result("gnn", "test", "fit_s", time.perf_counter() - t0),
        ]
        self.test_once("gnn", final)
        final.config = replace(chosen, fuse_weight=0.0)
        self.test_once("gnn_only", final)

    def bootstrap(self) -> None:
        """gnn minus the best baseline (by test Recall@20), paired over test users."""
        tested = {r.model: r.value for r in self.results if r.split == "test" and r.metric == f"recall@{K}"}
        others = [m for m in tested if m in BASELINES]
        if "gnn" not in self.per_user or not others:
            return
        best = max(others, key=lambda m: tested[m])
        self.results += bootstrap_rows(f"gnn-vs-{best}", self.per_user["gnn"], self.per_user[best])
        if "gnn_only" in self.per_user:
            self.results += bootstrap_rows(f"gnn_only-vs-{best}", self.per_user["gnn_only"], self.per_user[best])


def main(
    models: str = "popularity,itemknn,rp3beta,ease,gnn,lightgcn",
    epochs: int = 30,
    batch_size: int = 32768,
    lr: float = 0.01,
    num_negatives: int = 4,
    gnn_negatives: int = 16,
    eval_every: int = 3,
    patience: int = 2,
    valid_users: int = 10_000,
    gnn_ease_l2: float = 0.0,
    seed: int = 0,
    threads: int = 2,
    out: Path = RESULTS,
) -> None:
    """Tune every model on valid, refit on train.txt, test once; writes <out>/rank-amazon-book.json after each model.

    ``gnn_ease_l2``: EASE's λ inside the gnn; 0 = EASE's λ chosen on valid in this run (ease must run first).
    """
    config_record = dict(locals())
    config_record["grids"] = {k: v for k, v in GRIDS.items()}
    config_record["gnn_config"] = GNN_CONFIG.to_dict()
    config_record["fuse_grid"] = list(FUSE_GRID)
    torch.set_num_threads(threads)
    start = time.perf_counter()
    tune, test = load_split(seed)
    names = models.split(",")
    schedule = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=0.0,  # both models regularise their layer-0 embeddings themselves
        num_negatives=num_negatives,
        patience=patience,
        eval_every=eval_every,
        seed=seed,
        device="cpu",
        progress=False,
        verbose=True,
    )
    bench = Bench(tune, test, schedule, valid_users, seed, gnn_negatives)
    bench.results += [
        Result("data", "valid", "users", float(tune.valid.users().numel())),
        Result("data", "valid", "pairs", float(tune.valid.num_edges)),
        Result("data", "valid", "fit_pairs", float(tune.train.num_edges)),
        Result("data", "valid", "scored_users", float(bench.grid_split.valid.users().numel())),
        Result("data", "valid", "scored_pairs", float(bench.grid_split.valid.num_edges)),
        Result("data", "test", "users", float(test.test.users().numel())),
        Result("data", "test", "pairs", float(test.test.num_edges)),
        Result("data", "test", "train_pairs", float(test.train.num_edges)),
    ]
    print(
        f"users {tune.train.num_users} items {tune.train.num_items}: fit {tune.train.num_edges} valid "
        f"{tune.valid.num_edges} ({tune.valid.users().numel()} users) | train {test.train.num_edges} test "
        f"{test.test.num_edges}",
        flush=True,
    )

    def save() -> None:
        write_results(
            "rank-amazon-book",
            "amazon-book-kgat (KGAT split; valid = 10% of train.txt per user, refit on train.txt)",
            [*bench.results, Result("run", "test", "wall_s", time.perf_counter() - start)],
            seeds=[seed],
            threads=threads,
            config=config_record,
            out_dir=out,
        )

    for name in names:
        if name == "gnn":
            bench.gnn(GNN_CONFIG, gnn_ease_l2 or bench.chosen.get("ease", {}).get("l2", GNN_CONFIG.ease_l2))
        else:
            bench.baseline(name)
        save()
    bench.bootstrap()
    save()
    shutil.rmtree(bench.ease_dir, ignore_errors=True)  # the cached EASE matrices (2.5 GB each)


if __name__ == "__main__":
    run(main)

"""MovieLens-100K rating prediction on the official u1.base / u1.test split.

    .venv/bin/python -m bench.rating_ml100k          # defaults = the configuration reported
    .venv/bin/python -m bench.rating_ml100k --max-epochs 5 --grid-size 1 --seeds 1 --out /tmp   # smoke run

Data through the ingest reader (``ingest.sources.movielens``). A seeded random 5% of u1.base is
the validation slice; models train on the other 95% and are reported on u1.test (RMSE,
predictions clamped to [1, 5]). Protocol: every configuration of a model's grid is trained once
(seed ``seed``) and scored on validation (rows ``<model>[<config>]``, split ``valid``); the best is
trained with ``seeds`` seeds (the grid's run is the first) and each run scores u1.test once. The
``gnn`` / ``mf`` test row is the mean of those single-seed RMSEs, ``rmse_sd`` their standard
deviation (n-1), ``rmse_seed<k>`` each run; ``gnn-ensemble`` averages the seeds' predictions and
is its own row. Models: ``gnn`` (bench.models.rating_gae.RatingGraphAE, a rating-typed graph
autoencoder with movie and user side features), ``mf`` (bench.models.rating_mf.BiasedMF, the same
trainer, the same tuning effort) and ``bias`` (global mean + regularised user/item biases).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench.common import CACHE, RESULTS, SHARED_DATA, Result, run, write_results
from bench.models.rating_gae import GraphAEConfig, RatingGraphAE, TypedAdjacency, train_graph_ae
from bench.models.rating_mf import BiasedMF, MFConfig, train_mf
from bench.models.rating_sage import Ratings, fit_biases, rmse
from kgrec.gnn.train import TrainConfig
from kgrec.ingest.sources.movielens import read_movies, read_ratings, read_users
from kgrec.kg.embeddings import TextEncoder, text_hash

DATA = SHARED_DATA / "ml-100k"
# the grids: every configuration is trained once (seed ``seed``) and scored on validation
GNN_GRID = (GraphAEConfig(hidden=256, l2=100.0), GraphAEConfig(hidden=256, l2=50.0))
GNN_LR = 0.005
MF_GRID = (MFConfig(dim=64, reg=0.1), MFConfig(dim=64, reg=0.15))
MF_LR = 0.03
BIAS_REGS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 25.0)


def movie_features(movies: pd.DataFrame, text_dim: int = 32) -> torch.Tensor:
    """[PCA(MiniLM(title), text_dim), unit variance | genre flags | standardised release year]."""
    titles = movies["title"].fillna("").tolist()
    cache = CACHE / f"ml100k-titles-{text_hash('|'.join(titles))[:12]}.npy"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, TextEncoder(device="cpu").encode(titles))
    text = torch.from_numpy(np.load(cache)).float()
    text = text - text.mean(0)
    _, _, basis = torch.linalg.svd(text, full_matrices=False)  # deterministic, unlike pca_lowrank
    text = text @ basis[:text_dim].T
    text = text / text.std()
    genres = movies["category"].fillna("").str.get_dummies(sep="|")
    year = pd.to_numeric(movies["release_year"], errors="coerce")
    year = year.fillna(year.median())
    year = ((year - year.mean()) / year.std()).to_numpy()[:, None]
    extra = torch.from_numpy(np.hstack([genres.to_numpy(float), year])).float()
    return torch.cat([text, extra], dim=1)


def user_features(users: pd.DataFrame) -> torch.Tensor:
    cols = ["attr:age_band", "attr:gender", "attr:occupation"]
    return torch.from_numpy(pd.get_dummies(users[cols].astype(str)).to_numpy(float)).float()


def load() -> tuple[Ratings, Ratings, Ratings, torch.Tensor, torch.Tensor, int, int]:
    movies, users, ratings = read_movies(DATA), read_users(DATA), read_ratings(DATA, "u1")
    uid = {u: k for k, u in enumerate(users["user_id"])}
    mid = {m: k for k, m in enumerate(movies["product_id"])}
    u = torch.tensor(ratings["user_id"].map(uid).to_numpy(np.int64))
    i = torch.tensor(ratings["product_id"].map(mid).to_numpy(np.int64))
    r = torch.tensor(ratings["rating"].astype(float).to_numpy(np.float32))
    is_test = torch.tensor((ratings["split"] == "test").to_numpy())
    base = Ratings(u[~is_test], i[~is_test], r[~is_test])
    gen = torch.Generator().manual_seed(0)
    valid_mask = torch.rand(len(base), generator=gen) < 0.05
    return (
        base.subset(~valid_mask),
        base.subset(valid_mask),
        Ratings(u[is_test], i[is_test], r[is_test]),
        user_features(users),
        movie_features(movies),
        len(users),
        len(movies),
    )


@dataclass
class Fitted:
    """One trained run: its validation/test predictions and its training record."""

    valid: torch.Tensor
    test: torch.Tensor
    epochs: int
    best_epoch: int
    epoch_s: float


def label(name: str, config: Any) -> str:
    return f"{name}[" + ",".join(f"{k}={v}" for k, v in asdict(config).items()) + "]"


def select_and_repeat(
    name: str,
    grid: tuple[Any, ...],
    fit: Callable[[Any, int], Fitted],
    valid: Ratings,
    test: Ratings,
    seeds: list[int],
) -> tuple[list[Result], Any]:
    """Grid on validation with the first seed, then the best configuration with every seed."""
    results, first = [], {}
    for config in grid:
        t0 = time.perf_counter()
        first[config] = fit(config, seeds[0])
        score = rmse(first[config].valid, valid.values)
        results.append(Result(label(name, config), "valid", "rmse", score))
        print(f"{label(name, config)}: valid {score:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    best = min(grid, key=lambda c: rmse(first[c].valid, valid.values))
    runs = [first[best]] + [fit(best, s) for s in seeds[1:]]
    per_seed = [rmse(r.test, test.values) for r in runs]
    for s, value in zip(seeds, per_seed, strict=True):
        results.append(Result(name, "test", f"rmse_seed{s}", value))
    results += [
        Result(name, "valid", "rmse", statistics.fmean(rmse(r.valid, valid.values) for r in runs)),
        Result(name, "test", "rmse", statistics.fmean(per_seed)),
        Result(name, "test", "rmse_sd", statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0),
        Result(name, "test", "epochs", statistics.fmean(r.epochs for r in runs)),
        Result(name, "test", "best_epoch", statistics.fmean(r.best_epoch for r in runs)),
        Result(name, "test", "epoch_s", statistics.fmean(r.epoch_s for r in runs)),
        Result(name, "test", "seeds", float(len(runs))),
    ]
    if len(runs) > 1:
        for split, part in (("valid", valid), ("test", test)):
            mean_pred = torch.stack([getattr(r, split) for r in runs]).mean(0)
            results.append(Result(f"{name}-ensemble", split, "rmse", rmse(mean_pred, part.values)))
    print(f"{name} {best}: test " + ", ".join(f"{v:.4f}" for v in per_seed), flush=True)
    return results, best


def main(
    max_epochs: int = 400,
    patience: int = 30,
    grid_size: int = 2,
    seed: int = 0,
    seeds: int = 3,
    threads: int = 2,
    out: Path = RESULTS,
) -> None:
    """Bias, MF and GNN (grids on validation, then ``seeds`` runs each); writes <out>/rating-ml-100k.json."""
    config = dict(locals())
    torch.set_num_threads(threads)
    t_start = time.perf_counter()
    train, valid, test, ux, ix, nu, ni = load()
    print(
        f"users {nu} movies {ni} train {len(train)} valid {len(valid)} test {len(test)} "
        f"movie features {ix.size(1)} user features {ux.size(1)}",
        flush=True,
    )
    results: list[Result] = []
    mu = float(train.values.mean())
    seed_list = list(range(seed, seed + seeds))

    # bias baseline: regulariser chosen on valid
    def bias_pred(fit: tuple[float, torch.Tensor, torch.Tensor], part: Ratings) -> torch.Tensor:
        return (fit[0] + fit[1][part.users] + fit[2][part.items]).clamp(1, 5)

    fits = {reg: fit_biases(train, nu, ni, reg) for reg in BIAS_REGS}
    reg = min(BIAS_REGS, key=lambda g: rmse(bias_pred(fits[g], valid), valid.values))
    for split, part in (("valid", valid), ("test", test)):
        results.append(Result("bias", split, "rmse", rmse(bias_pred(fits[reg], part), part.values)))
    print(f"bias (reg={reg}): " + ", ".join(f"{r.split} {r.value:.4f}" for r in results), flush=True)

    def schedule(lr: float, s: int, batch_size: int = 8192) -> TrainConfig:
        return TrainConfig(
            epochs=max_epochs, lr=lr, weight_decay=0.0, patience=patience, batch_size=batch_size,
            seed=s, device="cpu", progress=False,
        )  # fmt: skip

    def fit_mf(c: MFConfig, s: int) -> Fitted:
        torch.manual_seed(s)
        model = BiasedMF(nu, ni, mu, c)
        r = train_mf(model, train, valid, schedule(MF_LR, s))
        v, t = (model.predict(p.users, p.items) for p in (valid, test))
        return Fitted(v, t, len(r.history), r.best_epoch, r.epoch_seconds)

    adjacency = TypedAdjacency(train, nu, ni).matrix()

    def fit_gnn(c: GraphAEConfig, s: int) -> Fitted:
        torch.manual_seed(s)
        model = RatingGraphAE(nu, ni, ux, ix, mu, c)
        r = train_graph_ae(model, train, valid, schedule(GNN_LR, s))
        v, t = (model.predict(adjacency, p.users, p.items) for p in (valid, test))
        return Fitted(v, t, len(r.history), r.best_epoch, r.epoch_seconds)

    chosen = {}
    for name, grid, fit in (("mf", MF_GRID, fit_mf), ("gnn", GNN_GRID, fit_gnn)):
        t0 = time.perf_counter()
        rows, chosen[name] = select_and_repeat(name, grid[:grid_size], fit, valid, test, seed_list)
        results += [*rows, Result(name, "test", "train_s", time.perf_counter() - t0)]
    results.append(Result("all", "all", "wall_s", time.perf_counter() - t_start))
    write_results(
        "rating-ml-100k",
        "ml-100k (u1.base/u1.test)",
        results,
        seeds=seed_list,
        threads=threads,
        config=config | {f"{k}_chosen": asdict(v) for k, v in chosen.items()} | {"bias_reg": reg},
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

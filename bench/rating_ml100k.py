"""MovieLens-100K rating prediction on the official u1.base / u1.test split.

    .venv/bin/python -m bench.rating_ml100k          # defaults = the configuration reported
    .venv/bin/python -m bench.rating_ml100k --max-epochs 5 --seeds 1 --out /tmp   # smoke run

Data through the ingest reader (``ingest.sources.movielens``). A seeded random 5% of u1.base is
the validation slice (early stopping and the choice of the bias baseline's regulariser); the
model is trained on the other 95% and reported on u1.test (RMSE, predictions clamped to [1, 5]).
Models: ``rating_sage`` (bench.models.rating_sage.RatingGNN: MiniLM title embeddings + genres +
year, user demographics; trained by ``gnn.train.run_training``) and ``bias`` (global mean +
regularised user/item biases).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.common import CACHE, RESULTS, SHARED_DATA, Result, run, write_results
from bench.models.rating_sage import (
    RatingConfig,
    RatingGNN,
    Ratings,
    fit_biases,
    message_graph,
    rmse,
    train_rating_model,
)
from kgrec.gnn.train import TrainConfig
from kgrec.ingest.sources.movielens import read_movies, read_ratings, read_users
from kgrec.kg.embeddings import TextEncoder, text_hash

DATA = SHARED_DATA / "ml-100k"


def movie_features(movies: pd.DataFrame) -> torch.Tensor:
    """[MiniLM(title) | genre flags | standardised release year]."""
    titles = movies["title"].fillna("").tolist()
    cache = CACHE / f"ml100k-titles-{text_hash('|'.join(titles))[:12]}.npy"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, TextEncoder(device="cpu").encode(titles))
    text = torch.from_numpy(np.load(cache))
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


def main(
    hidden: int = 64,
    layers: int = 1,
    dropout: float = 0.4,
    lr: float = 0.01,
    weight_decay: float = 3e-4,
    supervise_frac: float = 0.4,
    max_epochs: int = 400,
    patience: int = 40,
    seed: int = 0,
    seeds: int = 3,
    threads: int = 1,
    out: Path = RESULTS,
) -> None:
    """Bias baseline and the rating GNN (mean of ``seeds`` runs); writes <out>/rating-ml-100k.json."""
    config = dict(locals())
    torch.set_num_threads(threads)
    train, valid, test, ux, ix, nu, ni = load()
    print(
        f"users {nu} movies {ni} train {len(train)} valid {len(valid)} test {len(test)} "
        f"movie features {ix.size(1)} user features {ux.size(1)}"
    )
    results: list[Result] = []

    # bias baseline: regulariser chosen on valid
    best = min(
        ((fit_biases(train, nu, ni, reg), reg) for reg in (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 25.0)),
        key=lambda fr: rmse((fr[0][0] + fr[0][1][valid.users] + fr[0][2][valid.items]).clamp(1, 5), valid.values),
    )
    (mu, bu, bi), reg = best
    for name, part in (("valid", valid), ("test", test)):
        pred = (mu + bu[part.users] + bi[part.items]).clamp(1, 5)
        results.append(Result("bias", name, "rmse", rmse(pred, part.values)))
    print(f"bias (reg={reg}): " + ", ".join(f"{r.split} {r.value:.4f}" for r in results))

    graph = message_graph(train)
    preds: dict[str, list[torch.Tensor]] = {"valid": [], "test": []}
    runs = []
    t0 = time.perf_counter()
    model_config = RatingConfig(hidden=hidden, layers=layers, dropout=dropout, supervise_frac=supervise_frac)
    for s in range(seed, seed + seeds):  # seeds > 1: mean of independent runs
        schedule = TrainConfig(
            epochs=max_epochs, lr=lr, weight_decay=weight_decay, patience=patience, seed=s, device="cpu", progress=False
        )
        torch.manual_seed(s)
        model = RatingGNN(nu, ni, ux, ix, float(train.values.mean()), model_config)
        runs.append(train_rating_model(model, train, valid, schedule))
        for name, part in (("valid", valid), ("test", test)):
            preds[name].append(model.predict(graph, part.users, part.items))
    name = RatingGNN.name
    for split, part in (("valid", valid), ("test", test)):
        results.append(Result(name, split, "rmse", rmse(torch.stack(preds[split]).mean(0), part.values)))
    results += [
        Result(name, "test", "epoch_s", float(np.mean([r.epoch_seconds for r in runs]))),
        Result(name, "test", "epochs", float(np.mean([len(r.history) for r in runs]))),
        Result(name, "test", "best_epoch", float(np.mean([r.best_epoch for r in runs]))),
        Result(name, "test", "seeds", float(seeds)),
        Result(name, "test", "train_s", time.perf_counter() - t0),
    ]
    write_results(
        "rating-ml-100k",
        "ml-100k (u1.base/u1.test)",
        results,
        seeds=range(seed, seed + seeds),
        threads=threads,
        config=config,
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

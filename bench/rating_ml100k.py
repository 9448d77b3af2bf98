"""MovieLens-100K rating prediction on the official u1.base / u1.test split.

    .venv/bin/python bench/rating_ml100k.py --threads 1   # defaults = the configuration reported

Data through the ingest reader (``ingest.sources.movielens``). A seeded random 5% of u1.base is
the validation slice (early stopping and the choice of the bias baseline's regulariser); the
model is trained on the other 95% and reported on u1.test (RMSE, predictions clamped to [1, 5]).
Models: ``gnn`` (gnn.models.rating.RatingGNN: MiniLM title embeddings + genres + year, user
demographics) and ``bias`` (global mean + regularised user/item biases).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SHARED_DATA, Result, write_results
from kgrec.gnn.models.rating import (
    RatingConfig,
    RatingGNN,
    Ratings,
    fit_biases,
    message_graph,
    rmse,
    train_rating_model,
)
from kgrec.ingest.sources.movielens import read_movies, read_ratings, read_users
from kgrec.kg.embeddings import TextEncoder, text_hash

DATA = SHARED_DATA / "ml-100k"


def movie_features(movies: pd.DataFrame) -> torch.Tensor:
    """[MiniLM(title) | genre flags | standardised release year]."""
    titles = movies["title"].fillna("").tolist()
    cache = ROOT / ".kgrec" / "bench-cache" / f"ml100k-titles-{text_hash('|'.join(titles))[:12]}.npy"
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--weight-decay", type=float, default=3e-4)
    ap.add_argument("--supervise-frac", type=float, default=0.4)
    ap.add_argument("--max-epochs", type=int, default=400)
    ap.add_argument("--patience", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=3, help="average the predictions of this many seeds")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only (for sweeps)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
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
    hists = []
    t0 = time.perf_counter()
    for seed in range(args.seed, args.seed + args.seeds):  # --seeds > 1: mean of independent runs
        config = RatingConfig(
            hidden=args.hidden,
            layers=args.layers,
            dropout=args.dropout,
            lr=args.lr,
            weight_decay=args.weight_decay,
            max_epochs=args.max_epochs,
            patience=args.patience,
            supervise_frac=args.supervise_frac,
            seed=seed,
        )
        torch.manual_seed(seed)
        model = RatingGNN(nu, ni, ux, ix, float(train.values.mean()), config)
        hists.append(train_rating_model(model, train, valid))
        for name, part in (("valid", valid), ("test", test)):
            preds[name].append(model.predict(graph, part.users, part.items))
    for name, part in (("valid", valid), ("test", test)):
        results.append(Result("gnn", name, "rmse", rmse(torch.stack(preds[name]).mean(0), part.values)))
    results += [
        Result("gnn", "test", "epoch_s", float(np.mean([s for h in hists for s in h.epoch_s]))),
        Result("gnn", "test", "epochs", float(np.mean([h.epochs for h in hists]))),
        Result("gnn", "test", "best_epoch", float(np.mean([h.best_epoch for h in hists]))),
        Result("gnn", "test", "seeds", float(args.seeds)),
        Result("gnn", "test", "train_s", time.perf_counter() - t0),
    ]
    print(f"config {config}")
    if args.no_write:
        for r in results:
            print(r)
    else:
        write_results("rating-ml-100k", "ml-100k (u1.base/u1.test)", results)


if __name__ == "__main__":
    main()

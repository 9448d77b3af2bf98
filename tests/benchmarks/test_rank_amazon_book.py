"""The Amazon-Book benchmark end to end on a tiny KGAT-format split (every model, tune → refit → test)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bench.rank_amazon_book as ab


def write_kgat(folder: Path, users: int = 40, items: int = 30, seed: int = 0) -> None:
    """Users in two taste groups buying within their group; test = 2 more items of the group."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for u in range(users):
        group = np.arange(items)[np.arange(items) % 2 == u % 2]
        picked = rng.permutation(group)[:10]
        train.append(f"{u} " + " ".join(map(str, picked[:8])))
        test.append(f"{u} " + " ".join(map(str, picked[8:])))
    folder.mkdir()
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "test.txt").write_text("\n".join(test) + "\n")


def test_holdout_is_per_user_and_seeded() -> None:
    users = np.repeat(np.arange(3), [10, 4, 5])
    items = np.arange(users.size)
    mask = ab.holdout_valid(users, items, seed=1)
    assert np.bincount(users[mask], minlength=3).tolist() == [1, 0, 1]  # 10% rounded, >= 1; < 5 items: none
    assert (mask == ab.holdout_valid(users, items, seed=1)).all()


def test_main_tunes_refits_and_tests_every_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_kgat(tmp_path / "kgat")
    monkeypatch.setattr(ab, "DATA", tmp_path / "kgat")
    monkeypatch.setattr(
        ab,
        "GRIDS",
        {
            "popularity": [{}],
            "itemknn": [{"k": 5, "shrink": 0.0}],
            "rp3beta": [{"alpha": 1.0, "beta": 0.5}],
            "ease": [{"l2": 1.0}, {"l2": 10.0}],
            "lightgcn": [{"num_layers": 2, "lr": 0.05}],
        },
    )
    monkeypatch.setattr(ab, "CACHE", tmp_path / "cache")
    ab.main(epochs=2, batch_size=256, eval_every=1, valid_users=100, out=tmp_path)
    rows = json.loads((tmp_path / "rank-amazon-book.json").read_text())["results"]
    got = {(r["model"], r["split"], r["metric"]): r["value"] for r in rows}
    for model in ("popularity", "itemknn", "rp3beta", "ease", "lightgcn", "gnn", "gnn_only"):
        assert (model, "test", "recall@20") in got, model
        assert (model, "test", "eval_s") in got
    assert ("ease[l2=1]", "valid", "recall@20") in got and ("ease[l2=10]", "valid", "recall@20") in got
    assert got[("gnn", "test", "fuse_weight")] in ab.FUSE_GRID
    assert ("lightgcn", "test", "epoch_s") in got and ("gnn", "test", "epoch_s") in got
    assert any(m.startswith("gnn-vs-") for m, _, _ in got)
    assert got[("popularity", "test", "recall@20")] < got[("ease", "test", "recall@20")]  # taste groups learnt

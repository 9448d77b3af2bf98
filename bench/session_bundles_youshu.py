"""Bundles for a session on Youshu: rank all 4,771 bundles for a set of items, with no user id.

Each user with held-out bundles becomes a *session*: their item interactions (``user_item.txt``)
are the session's products; the bundles they took in ``user_bundle_tune`` (validation) or
``user_bundle_test`` (test) are its targets. The scorers (``gnn.session_bundles``) see only the
item ids, never the user, and nothing is masked (a session has no bundle history to mask): full
ranking over every bundle, Recall@20 / NDCG@20 from ``gnn.metrics``.

What the scorers were fitted on: Youshu's ``user_bundle_train`` links, the bundle→item lists and the
user→item graph (bench.bundle_youshu's training data; the held-out links never). The bundle GNN is
bench.bundle_youshu's CrossCBR model, read from its cache (``.kgrec/bench-cache``) when the cached
weights are there (sha256 in the config), else trained with bench.bundle_youshu's defaults (~35 min
on 2 cores).

Models: ``overlap``, ``bundle_ease`` (session item profile through bundle EASE), ``gnn-session``
(the bundle GNN alone, the session as the mean of its items' embeddings), ``popularity``, and
``gnn``: the fused session scorer z(gnn) + w_e z(ease) + w_o z(overlap) + w_p z(log pop); every
``FUSION_GRID`` weight triple a ``tune`` row, the best by tune Recall@20 tested once.

    .venv/bin/python -m bench.session_bundles_youshu                 # the reported run
    .venv/bin/python -m bench.session_bundles_youshu --max-sessions 300 --out /tmp   # smoke run
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from bench.bundle_youshu import KS, Youshu, evaluate, load_youshu, train_gnn
from bench.common import CACHE, RESULTS, Result, run, write_results
from kgrec.gnn.contract import Interactions
from kgrec.gnn.models.bundle_fusion import BundleEASE, BundleEASEConfig, standardise
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
from kgrec.gnn.session_bundles import (
    SessionWeights,
    ease_scores,
    gnn_scores,
    log_popularity,
    members_matrix,
    overlap_scores,
    session_matrix,
)
from kgrec.gnn.train import TrainConfig

#: (ease, overlap, popularity) weights of the fused ``gnn`` (the GNN part weighs 1) tried on tune.
FUSION_GRID = [
    (e, o, p) for e in (0.0, 0.25, 0.5, 1.0) for o in (0.0, 0.25, 0.5, 1.0) for p in (0.0, 0.5, 1.0, 2.0, 3.0, 4.0)
]
GNN_CACHE = CACHE / "bundle-youshu-crosscbr.pt"


def sessions_of(data: Youshu, links: np.ndarray, max_sessions: int, seed: int) -> tuple[np.ndarray, list[list[int]]]:
    """Users with held-out ``links`` and an item history (at most ``max_sessions``, a seeded sample), and their items."""
    items: dict[int, list[int]] = defaultdict(list)
    for u, i in data.user_item.T.tolist():
        items[u].append(i)
    users = np.array(sorted(u for u in set(links[0].tolist()) if items[u]), dtype=np.int64)
    if 0 < max_sessions < len(users):
        users = np.sort(np.random.default_rng(seed).choice(users, max_sessions, replace=False))
    return users, [items[u] for u in users.tolist()]


def load_gnn(data: Youshu, seed: int, threads: int) -> tuple[CrossViewBundleModel, str]:
    """bench.bundle_youshu's trained CrossCBR model from its cache, else trained with its defaults."""
    if GNN_CACHE.is_file():
        model = CrossViewBundleModel(
            data.num_users,
            data.num_bundles,
            data.num_items,
            torch.from_numpy(data.user_item),
            torch.from_numpy(data.bundle_item),
            BundleModelConfig(seed=seed),
        )
        model.fit(Interactions(data.num_users, data.num_bundles, torch.from_numpy(data.train)))
        model.load_state_dict(torch.load(GNN_CACHE, weights_only=True))
        return model.eval(), hashlib.sha256(GNN_CACHE.read_bytes()).hexdigest()
    print(f"no cached bundle GNN at {GNN_CACHE}: training it with bench.bundle_youshu's defaults", flush=True)
    schedule = TrainConfig(epochs=32, batch_size=2048, lr=3e-3, weight_decay=1e-4, num_negatives=1, patience=4,
                           eval_every=2, k=KS[0], seed=seed, device="cpu", progress=False, verbose=True)  # fmt: skip
    torch.set_num_threads(threads)
    model, _ = train_gnn(data, BundleModelConfig(seed=seed), schedule)
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), GNN_CACHE)
    return model.eval(), hashlib.sha256(GNN_CACHE.read_bytes()).hexdigest()


def session_parts(
    data: Youshu, sessions: list[list[int]], gnn: CrossViewBundleModel, ease: BundleEASE
) -> dict[str, Tensor]:
    """Each part's standardised ``[sessions, bundles]`` scores (popularity as one ``[1, bundles]`` row)."""
    s = session_matrix(sessions, data.num_items)
    members = members_matrix(data.bundle_item, data.num_bundles, data.num_items)
    counts = np.bincount(data.train[1], minlength=data.num_bundles)
    parts = {
        "gnn": gnn_scores(gnn, sessions),
        "ease": ease_scores(s, members, ease.weights.numpy()),
        "overlap": overlap_scores(s, members),
        "popularity": log_popularity(counts),
    }
    return {k: standardise(v) for k, v in parts.items()}


def measure(parts: dict[str, Tensor], users: np.ndarray, targets: np.ndarray, num_bundles: int,
            weights: dict[str, float]) -> dict[str, float]:  # fmt: skip
    """Recall/NDCG@20 of ``Σ w_p z(part_p)`` over the sessions of ``users`` (rows of ``parts``)."""
    row = torch.full((int(max(users.max(), targets[0].max())) + 1,), -1, dtype=torch.long)
    row[torch.from_numpy(users)] = torch.arange(len(users))

    def score_all(u: Tensor) -> Tensor:
        r = row[u]
        out = torch.zeros(len(r), num_bundles)
        for name, w in weights.items():
            if w:
                part = parts[name]
                out += w * (part if part.size(0) == 1 else part[r])
        return out

    keep = np.isin(targets[0], users)
    return evaluate(score_all, num_bundles, np.zeros((2, 0), dtype=np.int64), targets[:, keep])


def main(
    max_sessions: int = 0,
    ease_item_weight: float = 0.3,
    ease_profile_weight: float = 0.3,
    ease_l2: float = 1000.0,
    seed: int = 42,
    threads: int = 2,
    out: Path = RESULTS,
    tag: str = "",
) -> None:
    """Score tune and test sessions with every part; choose the fusion on tune; write <out>/session-bundles-youshu[-tag].json.

    ``max_sessions``: a seeded sample of at most this many sessions per split (0 = every one).
    """
    config_record: dict[str, object] = dict(locals())
    torch.set_num_threads(threads)
    data = load_youshu()
    train = Interactions(data.num_users, data.num_bundles, torch.from_numpy(data.train))
    gnn, sha = load_gnn(data, seed, threads)
    ease = BundleEASE(data.num_users, data.num_bundles, data.num_items, torch.from_numpy(data.user_item),
                      torch.from_numpy(data.bundle_item), BundleEASEConfig(ease_l2, ease_item_weight, ease_profile_weight))  # fmt: skip
    ease.fit(train)
    splits = {
        name: sessions_of(data, links, max_sessions, seed) for name, links in (("tune", data.tune), ("test", data.test))
    }
    links = {"tune": data.tune, "test": data.test}
    results: list[Result] = []
    parts: dict[str, dict[str, Tensor]] = {}
    for split, (_, sessions) in splits.items():
        t0 = time.perf_counter()
        parts[split] = session_parts(data, sessions, gnn, ease)
        per_session_ms = 1000 * (time.perf_counter() - t0) / len(sessions)
        sizes = [len(s) for s in sessions]
        print(f"{split}: {len(sessions)} sessions, median {np.median(sizes):.0f} items, {per_session_ms:.2f} ms each")
        results += [
            Result("sessions", split, "count", len(sessions)),
            Result("sessions", split, "median_items", float(np.median(sizes))),
            Result("gnn", split, "score_ms_per_session", per_session_ms),
        ]

    def rows(name: str, split: str, weights: dict[str, float]) -> list[Result]:
        users = splits[split][0]
        m = measure(parts[split], users, links[split], data.num_bundles, weights)
        return [Result(name, split, k, v) for k, v in m.items()]

    singles = {"overlap": "overlap", "bundle_ease": "ease", "gnn-session": "gnn", "popularity": "popularity"}
    for name, part in singles.items():
        for split in ("tune", "test"):
            results += rows(name, split, {part: 1.0})
    best: tuple[float, SessionWeights] = (-1.0, SessionWeights())
    for e, o, p in FUSION_GRID:
        w = SessionWeights(gnn=1.0, ease=e, overlap=o, popularity=p)
        tune_rows = rows(f"gnn[ease={e:g},overlap={o:g},pop={p:g}]", "tune", w.as_dict())
        recall = next(r.value for r in tune_rows if r.metric == "recall@20")
        print(f"gnn ease {e} overlap {o} pop {p}: tune recall@20 {recall:.4f}", flush=True)
        results += tune_rows
        if recall > best[0]:
            best = (recall, w)
    chosen = best[1]
    results += rows("gnn", "tune", chosen.as_dict()) + rows("gnn", "test", chosen.as_dict())
    results += [Result("gnn", "tune", f"{k}_weight", v) for k, v in chosen.as_dict().items()]
    config_record.update(gnn_checkpoint_sha256=sha, chosen_weights=chosen.as_dict(), masked="nothing")
    write_results(
        "session-bundles-youshu" + (f"-{tag}" if tag else ""),
        "youshu",
        results,
        seeds=[seed],
        threads=threads,
        config=config_record,
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

r"""Recommend existing Bundle nodes to a user.

**Recommending** (``recommend_bundles``) ranks Bundle nodes for a user with the CrossCBR-style
model of ``gnn.models.bundle_gnn``; bundles it has not seen (mined ones) are scored from their
items, and without a model by the share of a bundle's items the user bought (+ popularity).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from kgrec.gnn.bundles import BundleError, user_products
from kgrec.gnn.contract import Interactions, LinkSplit
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
from kgrec.gnn.train import TrainConfig, train_model
from kgrec.kg.connection import GraphConnection
from kgrec.queries.runner import run


@dataclass(frozen=True)
class BundleModelLink:
    """A trained user→bundle model with its id maps (graph id → model index)."""

    model: CrossViewBundleModel
    users: Mapping[str, int]
    bundles: Mapping[str, int]
    items: Mapping[str, int]


@dataclass(frozen=True)
class BundleRecommendation:
    bundle_id: str
    title: str | None
    source: str | None
    score: float
    items: list[str]
    reasons: list[str]


#: The bundle GNN's three views: (named query, source column, target column) per view.
_EDGE_QUERIES = {
    "ub": ("user_bundle_edges", "user_id", "bundle_id"),
    "bi": ("bundle_item_edges", "bundle_id", "product_id"),
    "ui": ("user_item_edges", "user_id", "product_id"),
}


def fit_bundle_model(
    conn: GraphConnection, epochs: int = 30, config: BundleModelConfig | None = None, lr: float = 2e-3, l2: float = 1e-4
) -> BundleModelLink:
    """Train the user→bundle model on the graph's INTERACTED_WITH, INCLUDES and PURCHASED edges."""
    edges = {k: [(r[a], r[b]) for r in run(conn, name)] for k, (name, a, b) in _EDGE_QUERIES.items()}
    users = {u: i for i, u in enumerate(sorted({a for k in ("ub", "ui") for a, _ in edges[k]}))}
    # bundles nobody interacted with stay out: recommend_bundles scores them from their items
    bundles = {b: i for i, b in enumerate(sorted({b for _, b in edges["ub"]}))}
    edges["bi"] = [(b, p) for b, p in edges["bi"] if b in bundles]
    items = {p: i for i, p in enumerate(sorted({b for k in ("bi", "ui") for _, b in edges[k]}))}
    if not edges["ub"] or not bundles:
        raise BundleError(
            "no user–bundle interactions in the graph: ingest bundles first (youshu) or recommend without a model"
        )

    def arr(key: str, left: Mapping[str, int], right: Mapping[str, int]) -> Tensor:
        pairs = np.array([(left[a], right[b]) for a, b in edges[key]], dtype=np.int64).reshape(-1, 2)
        return torch.from_numpy(pairs.T.copy())

    cfg = config or BundleModelConfig()
    model = CrossViewBundleModel(
        len(users), len(bundles), len(items), arr("ui", users, items), arr("bi", bundles, items), cfg
    )
    train = Interactions(len(users), len(bundles), arr("ub", users, bundles))
    model.fit(train)
    none = Interactions(len(users), len(bundles), torch.zeros(2, 0, dtype=torch.long))
    schedule = TrainConfig(epochs, 2048, lr, l2, num_negatives=1, seed=cfg.seed, device="cpu", progress=False)
    train_model(model, LinkSplit(train, none, none), schedule)
    return BundleModelLink(model.eval(), users, bundles, items)


def recommend_bundles(
    conn: GraphConnection, user_id: str, k: int = 10, model: BundleModelLink | None = None
) -> list[BundleRecommendation]:
    """Top ``k`` Bundle nodes for ``user_id`` (bundles they already interacted with excluded)."""
    bought = set(user_products(conn, user_id, limit=10_000))
    done = {r["bundle_id"] for r in run(conn, "user_bundles", user_id=user_id)}
    rows = [
        {**r, "id": r["bundle_id"], "items": sorted(r["items"])}
        for r in run(conn, "bundle_catalogue")
        if r["bundle_id"] not in done
    ]
    if not rows:
        return []
    top_pop = max(r["users"] for r in rows) or 1
    scores = [len(bought & set(r["items"])) / len(r["items"]) + 0.1 * r["users"] / top_pop for r in rows]
    how = "item overlap"
    if model is not None and user_id in model.users:
        u = torch.tensor([model.users[user_id]])
        known = model.model.score_all(u)[0]
        new = [
            (r["id"], [model.items[p] for p in r["items"] if p in model.items])
            for r in rows
            if r["id"] not in model.bundles
        ]
        new = [(b, x) for b, x in new if x]  # bundles of only unknown items cannot be scored
        fresh = (
            dict(
                zip(
                    [b for b, _ in new], model.model.score_new_bundles(u, [x for _, x in new])[0].tolist(), strict=False
                )
            )
            if new
            else {}
        )
        scores = [
            float(known[model.bundles[r["id"]]]) if r["id"] in model.bundles else fresh.get(r["id"], float("-inf"))
            for r in rows
        ]
        how = "bundle GNN"
    ranked = sorted(zip(scores, range(len(rows)), strict=False), key=lambda x: (-x[0], rows[x[1]]["id"]))[:k]
    out = []
    for score, i in ranked:
        r = rows[i]
        overlap = sorted(bought & set(r["items"]))
        reasons = [f"{how} score {score:.3f}"]
        if overlap:
            reasons.append(f"contains {len(overlap)} product(s) you bought: {', '.join(overlap[:3])}")
        if r["users"]:
            reasons.append(f"chosen by {r['users']} other user(s)")
        out.append(BundleRecommendation(r["id"], r["title"], r["source"], round(score, 6), r["items"], reasons))
    return out

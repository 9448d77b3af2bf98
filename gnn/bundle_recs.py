r"""Recommend existing Bundle nodes to a user, or to a session (products, no user).

**Recommending** (``recommend_bundles``) ranks Bundle nodes for a user with the CrossCBR-style
model of ``gnn.models.bundle_gnn``; bundles it has not seen (mined ones) are scored from their
items, and without a model by the share of a bundle's items the user bought (+ popularity).

**For a session** (``recommend_bundles_for_session``) every Bundle node is scored from the
session's product ids alone by ``gnn.session_bundles``: item overlap and popularity always, bundle
EASE and the bundle GNN (the session as the mean of its items' embeddings) when a model is given,
fused with the weights chosen on Youshu's validation sessions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from kgrec.gnn.bundles import BundleError, SessionBundle, require_products, user_products
from kgrec.gnn.contract import Interactions, LinkSplit
from kgrec.gnn.models.bundle_fusion import BundleEASE
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
from kgrec.gnn.session_bundles import (
    SESSION_WEIGHTS,
    SessionWeights,
    ease_scores,
    fuse,
    gnn_scores,
    log_popularity,
    members_matrix,
    overlap_scores,
    session_matrix,
)
from kgrec.gnn.train import TrainConfig, train_model
from kgrec.kg.connection import GraphConnection
from kgrec.queries.runner import run


@dataclass(frozen=True)
class BundleModelLink:
    """A trained user→bundle model with its id maps (graph id → model index); ``ease``: bundle EASE
    fitted on the same interactions (scores sessions with the GNN)."""

    model: CrossViewBundleModel
    users: Mapping[str, int]
    bundles: Mapping[str, int]
    items: Mapping[str, int]
    ease: BundleEASE | None = None


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
    ease = BundleEASE(len(users), len(bundles), len(items), arr("ui", users, items), arr("bi", bundles, items))
    ease.fit(train)  # closed form: one bundles x bundles inverse
    return BundleModelLink(model.eval(), users, bundles, items, ease)


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


@dataclass(frozen=True)
class SessionBundlePage:
    """Bundles for a session (product ids, no user); ``how`` names the fused parts; ``note`` says why
    the list is empty and what to do; ``composed``: a bundle built around the session, if asked for."""

    basket: list[str]
    items: list[BundleRecommendation]
    how: str
    note: str | None = None
    composed: SessionBundle | None = None


def _session_model_parts(rows: list[dict], session: list[str], model: BundleModelLink) -> dict[str, np.ndarray]:
    """The GNN (and bundle EASE) part over the catalogue ``rows``; a bundle they cannot score gets the row minimum."""
    known = [model.items[p] for p in session if p in model.items]
    if not known:
        return {}
    order = sorted(model.bundles, key=model.bundles.__getitem__)
    new = [(i, [model.items[p] for p in r["items"] if p in model.items]) for i, r in enumerate(rows)]
    new = [(i, x) for i, x in new if x and rows[i]["id"] not in model.bundles]
    scores = gnn_scores(model.model, [known], [x for _, x in new])[0].numpy()
    where = {b: j for j, b in enumerate(order)}
    parts = {"gnn": _on_rows(rows, scores, where, {i: len(order) + n for n, (i, _) in enumerate(new)})}
    if model.ease is not None:
        pairs = np.array([(model.bundles[r["id"]], model.items[p]) for r in rows if r["id"] in model.bundles
                          for p in r["items"] if p in model.items], dtype=np.int64).reshape(-1, 2).T  # fmt: skip
        members = members_matrix(pairs, len(model.bundles), len(model.items))
        ease = ease_scores(session_matrix([known], len(model.items)), members, model.ease.weights.numpy())[0].numpy()
        parts["ease"] = _on_rows(rows, ease, where, {})
    return parts


def _on_rows(rows: list[dict], scores: np.ndarray, where: Mapping[str, int], extra: Mapping[int, int]) -> np.ndarray:
    """``scores`` (model order) laid out on the catalogue rows; rows without a score get the minimum."""
    out = np.full(len(rows), float(scores.min(initial=0.0)), dtype=np.float32)
    for i, r in enumerate(rows):
        j = where.get(r["id"], extra.get(i))
        if j is not None:
            out[i] = scores[j]
    return out


def recommend_bundles_for_session(
    conn: GraphConnection,
    product_ids: Sequence[str],
    k: int = 5,
    model: BundleModelLink | None = None,
    weights: SessionWeights = SESSION_WEIGHTS,
) -> tuple[list[BundleRecommendation], str]:
    """Top ``k`` Bundle nodes for a session's products, and which parts scored them. No bundle is
    excluded: a session has no bundle history. Unknown product ids raise UnknownEntityError."""
    session = list(dict.fromkeys(product_ids))
    if not session or k < 1:
        raise BundleError("give at least one product id and k >= 1 to find bundles for a session")
    require_products(conn, session)
    rows = [{**r, "id": r["bundle_id"], "items": sorted(r["items"])} for r in run(conn, "bundle_catalogue")]
    if not rows:
        return [], "none"
    index = {p: i for i, p in enumerate(sorted({p for r in rows for p in r["items"]} | set(session)))}
    members = members_matrix(
        np.array([(b, index[p]) for b, r in enumerate(rows) for p in r["items"]], dtype=np.int64).reshape(-1, 2).T,
        len(rows),
        len(index),
    )
    parts: dict[str, Tensor] = {
        "overlap": overlap_scores(session_matrix([[index[p] for p in session]], len(index)), members),
        "popularity": log_popularity(np.array([r["users"] for r in rows])),
    }
    if model is not None:
        parts.update(
            {name: torch.from_numpy(v).unsqueeze(0) for name, v in _session_model_parts(rows, session, model).items()}
        )
    names = {"gnn": "bundle GNN", "ease": "bundle EASE", "overlap": "item overlap", "popularity": "popularity"}
    how = " + ".join(names[p] for p in ("gnn", "ease", "overlap", "popularity") if p in parts)
    scores = fuse(parts, weights)[0].tolist()
    ranked = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i]["id"]))[:k]
    chosen, out = set(session), []
    for i in ranked:
        r = rows[i]
        overlap = sorted(chosen & set(r["items"]))
        reasons = [f"session score {scores[i]:.3f} ({how})"]
        if overlap:
            reasons.append(f"holds {len(overlap)} of your session's products: {', '.join(overlap[:3])}")
        if r["users"]:
            reasons.append(f"chosen by {r['users']} user(s)")
        out.append(BundleRecommendation(r["id"], r["title"], r["source"], round(scores[i], 6), r["items"], reasons))
    return out, how

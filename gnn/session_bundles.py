r"""Score every bundle for a *session*: a set of item ids with no user behind it (a visitor).

Nothing here reads a user id, so a session the models never saw is scored the same way as a known
one (inductive). Four parts, each a ``[sessions, bundles]`` matrix, for a session :math:`S` and a
bundle :math:`b` with items :math:`I(b)`:

* ``overlap`` — how much of the bundle the session holds plus how much of the session the bundle
  holds: :math:`|S \cap I(b)| / |I(b)| + |S \cap I(b)| / |S|`;
* ``ease`` — bundle EASE (:class:`gnn.models.bundle_fusion.BundleEASE`) fed the session's item
  profile over bundles :math:`\hat Y_S` (:math:`\min(|S \cap I(b)|, 3)`, L2-normalised) instead
  of a user's bundle row: :math:`s = \hat Y_S W` — bundles taken by the same users as the bundles
  the session overlaps;
* ``gnn`` — the bundle GNN (:class:`gnn.models.bundle_gnn.CrossViewBundleModel`) used inductively:
  the session is the mean of its items' item-view embeddings :math:`\bar e_S` and stands in for both
  user views, :math:`s = \langle \bar e_S, b^I + b^B \rangle` (a bundle the model never saw:
  :math:`2\langle \bar e_S, b^I \rangle`, from its items, as ``score_new_bundles`` does for users);
* ``popularity`` — :math:`\log(1 + n_b)`, the bundle's number of users.

**Fusion** adds the per-session standardised parts (as ``bundle_fusion.FusedBundleModel`` does):
:math:`s = \sum_p w_p\, z_S(s_p)`, so the weights do not depend on each part's scale; parts that are
missing (no model) get weight 0. The weights are chosen on validation sessions
(``bench/session_bundles_youshu.py``); :data:`SESSION_WEIGHTS` are the chosen ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from kgrec.gnn.graph_ops import mean_pool_matrix
from kgrec.gnn.models.bundle_fusion import PROFILE_CAP, standardise
from kgrec.gnn.models.bundle_gnn import CrossViewBundleModel
from kgrec.kg.errors import ModelError

PARTS = ("gnn", "ease", "overlap", "popularity")


@dataclass(frozen=True)
class SessionWeights:
    """Weight of each standardised part in the fused session score (defaults: chosen on Youshu's
    validation sessions, where item overlap is weak and popularity strong; see docs/bundles.md)."""

    gnn: float = 1.0
    ease: float = 0.0
    overlap: float = 0.25
    popularity: float = 3.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


#: The weights chosen on Youshu's validation sessions (bench/results/session-bundles-youshu.json, config.chosen_weights).
SESSION_WEIGHTS = SessionWeights()


def session_matrix(sessions: Sequence[Sequence[int]], num_items: int) -> sp.csr_matrix:
    """Binary ``[sessions, items]`` matrix of the sessions' item ids."""
    rows = np.repeat(np.arange(len(sessions)), [len(s) for s in sessions])
    cols = np.fromiter((i for s in sessions for i in s), dtype=np.int64, count=len(rows))
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(sessions), num_items))
    m.data[:] = 1.0  # repeated items count once
    return m


def members_matrix(bundle_items: np.ndarray, num_bundles: int, num_items: int) -> sp.csr_matrix:
    """Binary ``[bundles, items]`` membership from ``[2, E]`` (bundle, item) pairs."""
    m = sp.csr_matrix(
        (np.ones(bundle_items.shape[1], dtype=np.float32), (bundle_items[0], bundle_items[1])),
        shape=(num_bundles, num_items),
    )
    m.data[:] = 1.0
    return m


def _counts(sessions: sp.csr_matrix, members: sp.csr_matrix) -> sp.csr_matrix:
    return (sessions @ members.T).tocsr()


def overlap_scores(sessions: sp.csr_matrix, members: sp.csr_matrix) -> Tensor:
    """``|S ∩ I(b)| / |I(b)| + |S ∩ I(b)| / |S|`` for every session and bundle."""
    counts = _counts(sessions, members).toarray()
    size_b = np.maximum(np.asarray(members.sum(axis=1)).ravel(), 1.0)
    size_s = np.maximum(np.asarray(sessions.sum(axis=1)).ravel(), 1.0)
    return torch.from_numpy((counts / size_b[None, :] + counts / size_s[:, None]).astype(np.float32))


def ease_scores(sessions: sp.csr_matrix, members: sp.csr_matrix, weights: np.ndarray) -> Tensor:
    """Bundle EASE's ``W`` (``[bundles, bundles]``) applied to the sessions' capped, normalised item profiles."""
    profile = _counts(sessions, members)
    profile.data = np.minimum(profile.data, PROFILE_CAP)
    norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
    profile = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ profile
    return torch.from_numpy(np.asarray(profile @ weights, dtype=np.float32))


def session_embeddings(item_view: Tensor, sessions: Sequence[Sequence[int]]) -> Tensor:
    """Mean item-view embedding of each session's items ``[sessions, dim]`` (zeros for an empty one)."""
    rows = np.repeat(np.arange(len(sessions)), [len(s) for s in sessions])
    cols = np.fromiter((i for s in sessions for i in s), dtype=np.int64, count=len(rows))
    pool = mean_pool_matrix(rows, cols, len(sessions), item_view.size(0))
    return torch.sparse.mm(pool, item_view)


def gnn_scores(
    model: CrossViewBundleModel, sessions: Sequence[Sequence[int]], new_bundles: Sequence[Sequence[int]] = ()
) -> Tensor:
    """``[sessions, model bundles + new bundles]``: the GNN's score of every bundle for each session;
    ``new_bundles`` (item-id lists) are bundles without a node in the model, scored from their items."""
    model.eval()
    with torch.no_grad():
        _, items, b_i, _, b_b = model.views(training=False)
        s = session_embeddings(items, sessions)
        out = s @ (b_i + b_b).T
        if new_bundles:
            out = torch.cat([out, 2 * s @ session_embeddings(items, new_bundles).T], dim=1)
    return out


def log_popularity(counts: np.ndarray | Tensor) -> Tensor:
    """``log(1 + n_b)`` as a ``[1, bundles]`` row (broadcasts over sessions)."""
    return torch.log1p(torch.as_tensor(counts, dtype=torch.float32)).unsqueeze(0)


def fuse(parts: Mapping[str, Tensor], weights: SessionWeights) -> Tensor:
    """``Σ_p w_p z_S(part_p)`` over the given parts (rows standardised; absent or zero-weight parts skipped)."""
    w = weights.as_dict()
    out: Tensor | None = None
    for name, scores in parts.items():
        if w.get(name, 0.0) == 0.0:
            continue
        z = standardise(scores.float())
        out = w[name] * z if out is None else out + w[name] * z
    if out is None:
        raise ModelError("no score part with a non-zero weight to fuse: give at least one part a weight above 0")
    return out

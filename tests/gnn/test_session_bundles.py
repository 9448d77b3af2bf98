"""The session→bundle score parts and their fusion, on hand-computed cases (no database)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgrec.gnn.contract import Interactions
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
from kgrec.gnn.session_bundles import (
    SessionWeights,
    ease_scores,
    fuse,
    gnn_scores,
    log_popularity,
    members_matrix,
    overlap_scores,
    session_matrix,
)
from kgrec.kg.errors import ModelError

# bundles: 0 = {0, 1}, 1 = {1, 2, 3}, 2 = {4}
BUNDLE_ITEMS = np.array([[0, 0, 1, 1, 1, 2], [0, 1, 1, 2, 3, 4]])


def test_overlap_counts_both_coverages() -> None:
    members = members_matrix(BUNDLE_ITEMS, 3, 5)
    got = overlap_scores(session_matrix([[1, 2], [4, 4]], 5), members)
    # session {1, 2}: bundle 0 holds 1 of 2 items (1/2) + covers 1 of 2 session items (1/2); bundle 1: 2/3 + 2/2
    assert torch.allclose(got[0], torch.tensor([1.0, 2 / 3 + 1.0, 0.0]))
    assert torch.allclose(got[1], torch.tensor([0.0, 0.0, 2.0]))  # a repeated item counts once


def test_ease_feeds_the_normalised_item_profile_through_w() -> None:
    members = members_matrix(BUNDLE_ITEMS, 3, 5)
    w = np.array([[0, 0, 1], [0, 0, 2], [0, 0, 0]], dtype=np.float32)  # bundles 0 and 1 point to bundle 2
    got = ease_scores(session_matrix([[0, 1, 2]], 5), members, w)
    profile = np.array([2.0, 2.0, 0.0]) / np.sqrt(8.0)  # overlap counts (capped at 3), L2-normalised
    assert torch.allclose(got[0], torch.from_numpy((profile @ w).astype(np.float32)))


def test_gnn_scores_a_new_bundle_like_a_known_one_of_the_same_items() -> None:
    torch.manual_seed(0)
    ui = torch.tensor([[0, 0, 1, 1], [0, 1, 3, 4]])
    model = CrossViewBundleModel(2, 3, 5, ui, torch.from_numpy(BUNDLE_ITEMS), BundleModelConfig(dim=8, edge_drop=0.0))
    model.fit(Interactions(2, 3, torch.tensor([[0, 1], [0, 2]])))
    got = gnn_scores(model, [[0, 1], [4]], new_bundles=[[4], [0, 1]])
    assert got.shape == (2, 5)
    _, items, b_i, _, _ = model.views(training=False)
    mean = items[[0, 1]].mean(0)
    assert torch.allclose(got[0, 3], 2 * mean @ items[4], atol=1e-5)
    assert torch.allclose(got[0, 4], 2 * mean @ b_i[0], atol=1e-5)  # the new bundle {0, 1} = bundle 0's item view


def test_fuse_standardises_and_skips_zero_weights() -> None:
    parts = {"overlap": torch.tensor([[0.0, 1.0, 2.0]]), "popularity": log_popularity(np.array([100, 0, 0]))}
    only_overlap = fuse(parts, SessionWeights(gnn=0, ease=0, overlap=1, popularity=0))
    assert torch.allclose(only_overlap, torch.tensor([[-1.0, 0.0, 1.0]]))
    both = fuse(parts, SessionWeights(gnn=0, ease=0, overlap=1, popularity=2))
    assert int(both.argmax()) == 0  # popularity outweighs overlap at twice the weight
    with pytest.raises(ModelError, match="non-zero weight"):
        fuse(parts, SessionWeights(gnn=1, ease=1, overlap=0, popularity=0))

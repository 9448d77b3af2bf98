"""The Youshu protocol helper: training bundles masked, Recall/NDCG over users with targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.bundle_youshu import evaluate


def test_masks_training_bundles_and_scores_standard_metrics() -> None:
    scores = torch.arange(25, 0, -1, dtype=torch.float32).repeat(3, 1)  # bundle 0 best ... 24 worst
    mask = np.array([[0, 2], [0, 5]])  # user 0 trained on bundle 0, user 2 on bundle 5
    target = np.array([[0, 0, 2], [1, 24, 6]])  # user 0: bundles 1 and 24; user 2: bundle 6
    m = evaluate(lambda users: scores[users], 25, mask, target)
    # user 0: bundle 1 at rank 1 (0 masked), 24 at rank 24 > 20 -> recall 1/2, NDCG 1 / (1 + 1/log2 3)
    # user 2: bundle 6 at rank 6 (5 masked) -> recall 1, NDCG 1/log2(7); user 1 has no target
    assert m["recall@20"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["ndcg@20"] == pytest.approx((1 / (1 + 1 / math.log2(3)) + 1 / math.log2(7)) / 2, rel=1e-5)

"""The benchmark co-purchase model: leave-one-out evidence and training through the one loop."""

from __future__ import annotations

import pytest
import torch

from bench.models.copurchase_gcn import (
    CoPurchaseConfig,
    CoPurchaseCounts,
    CoPurchaseGNN,
    leave_one_out_batches,
    train_copurchase,
)
from kgrec.gnn.train import TrainConfig, Validation


def test_copurchase_model_leaves_the_training_basket_out() -> None:
    counts = CoPurchaseCounts.from_baskets([[0, 1], [1, 2], [1, 2]], 3)
    assert counts.orders.tolist() == [1, 3, 2] and counts.together.toarray()[1].tolist() == [1, 0, 2]
    model = CoPurchaseGNN(counts, None, CoPurchaseConfig(dim=4))
    ev_train = model._evidence([[0]], targets=[1])  # only basket [0, 1] links 0 and 1
    ev_infer = model._evidence([[0]], targets=None)
    assert float(ev_train[0, 1]) == pytest.approx(float(torch.log(torch.tensor(model.eps))), abs=1e-4)
    assert float(ev_infer[0, 1]) == pytest.approx(0.0, abs=1e-3)  # conf(0 -> 1) = 1


def test_leave_one_out_batches_hide_one_item_of_each_basket() -> None:
    baskets = [[0, 1, 2], [3, 4], [5]]  # [5] is too small to hide anything
    (contexts, targets), *rest = list(leave_one_out_batches(baskets, 8, max_context=5, seed=0))
    assert not rest and len(targets) == 2
    assert sorted(sorted([*c, t]) for c, t in zip(contexts, targets, strict=True)) == [[0, 1, 2], [3, 4]]


def test_training_through_the_one_loop_learns_pairs() -> None:
    # two worlds: {0, 1, 2} and {3, 4, 5} are bought together
    baskets = [[0, 1], [1, 2], [0, 2], [0, 1, 2], [3, 4], [4, 5], [3, 5], [3, 4, 5]] * 3
    model = CoPurchaseGNN(CoPurchaseCounts.from_baskets(baskets, 6), None, CoPurchaseConfig(dim=8, evidence=False))
    seen: list[float] = []

    def validate() -> dict[str, float]:
        scores = model.score_baskets([[0], [3]])
        seen.append(float(scores[0, 1] - scores[0, 4]))
        return {"margin": seen[-1]}

    config = TrainConfig(epochs=15, batch_size=8, lr=0.05, weight_decay=0.0, patience=15, progress=False, device="cpu")
    result = train_copurchase(model, baskets, config, Validation(validate, "margin"))
    assert len(result.history) == 15 and result.best_valid == max(seen) > 0
    scores = model.score_baskets([[0], [3]])
    assert scores[0, 1] > scores[0, 4] and scores[1, 4] > scores[1, 1]
    assert torch.isinf(scores[0, 0]) and torch.isinf(scores[1, 3])  # basket items are masked

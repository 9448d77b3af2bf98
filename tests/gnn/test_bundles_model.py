"""The user→bundle GNN: training, the contract, and scoring new bundles without retraining."""

from __future__ import annotations

import pytest
import torch

from kgrec.gnn.contract import Interactions, LinkSplit
from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel, info_nce
from kgrec.gnn.train import TrainConfig, train_model
from kgrec.kg.errors import ModelError

# users 0-3 like "tea" items 0-2, users 4-7 like "garden" items 3-5
USER_ITEMS = [(u, i) for u in range(4) for i in (0, 1, 2)] + [(u, i) for u in range(4, 8) for i in (3, 4, 5)]
BUNDLE_ITEMS = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3), (2, 4), (3, 4), (3, 5)]
USER_BUNDLES = [(u, b) for u in range(4) for b in (0, 1)] + [(u, b) for u in range(4, 8) for b in (2, 3)]


def edges(pairs) -> torch.Tensor:
    return torch.tensor(pairs, dtype=torch.long).T.contiguous()


def trained(epochs: int = 60) -> CrossViewBundleModel:
    model = CrossViewBundleModel(
        8, 4, 6, edges(USER_ITEMS), edges(BUNDLE_ITEMS), BundleModelConfig(dim=16, edge_drop=0.0, seed=1)
    )
    train = Interactions(8, 4, edges(USER_BUNDLES))
    model.fit(train)
    config = TrainConfig(epochs=epochs, batch_size=8, lr=0.05, weight_decay=0.0, num_negatives=2, progress=False)
    none = Interactions(8, 4, edges(USER_BUNDLES)[:, :0])
    result = train_model(model, LinkSplit(train, none, none), config)  # no validation: every epoch, last weights
    losses = [s.loss for s in result.history]
    assert losses[-1] < losses[0] and result.best_epoch == epochs
    return model


def test_contract_shapes_and_ranking() -> None:
    model = trained()
    scores = model.score_all(torch.arange(8))
    assert scores.shape == (8, 4)
    assert torch.allclose(model.score(torch.tensor([0, 5]), torch.tensor([1, 2])), scores[[0, 5], [1, 2]], atol=1e-5)
    assert (scores[:4, :2].min(1).values > scores[:4, 2:].max(1).values).all()


def test_new_bundle_is_scored_from_its_items_without_retraining() -> None:
    model = trained()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new = model.score_new_bundles(torch.arange(8), [[0, 2], [3, 5]])  # unseen combinations
    assert new.shape == (8, 2) and torch.isfinite(new).all()
    assert (new[:4, 0] > new[:4, 1]).all() and (new[4:, 1] > new[4:, 0]).all()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ModelError):
        model.score_new_bundles(torch.arange(2), [[0, 99]])


def test_fit_validates_sizes_and_order() -> None:
    model = CrossViewBundleModel(8, 4, 6, edges(USER_ITEMS), edges(BUNDLE_ITEMS))
    with pytest.raises(ModelError):
        model.score_all(torch.arange(2))
    with pytest.raises(ModelError):
        model.fit(Interactions(8, 5, edges(USER_BUNDLES)))
    with pytest.raises(ModelError):
        CrossViewBundleModel(2, 4, 6, edges(USER_ITEMS), edges(BUNDLE_ITEMS))


def test_info_nce_prefers_aligned_views() -> None:
    x = torch.eye(4)
    assert info_nce(x, x, 0.25) < info_nce(x, x[[1, 2, 3, 0]], 0.25)


def test_edge_dropout_is_redrawn_every_epoch() -> None:
    model = CrossViewBundleModel(8, 4, 6, edges(USER_ITEMS), edges(BUNDLE_ITEMS), BundleModelConfig(edge_drop=0.5))
    with pytest.raises(ModelError):
        model.begin_epoch()
    model.fit(Interactions(8, 4, edges(USER_BUNDLES)))
    first = model._graphs["ui"].to_dense()
    model.begin_epoch()
    assert not torch.equal(first, model._graphs["ui"].to_dense())
    assert model._eval_graphs["ui"].to_dense().count_nonzero() > first.count_nonzero()


def test_item_view_can_hear_from_bundles() -> None:
    """With ``item_view_bundles`` an item's item-view vector moves with its bundles' embeddings."""
    config = BundleModelConfig(dim=8, edge_drop=0.0, seed=3, item_view_bundles=True)
    model = CrossViewBundleModel(8, 4, 6, edges(USER_ITEMS), edges(BUNDLE_ITEMS), config)
    model.fit(Interactions(8, 4, edges(USER_BUNDLES)))
    assert model._eval_graphs["ui"].shape == (8 + 6 + 4, 8 + 6 + 4)
    _, items_before, *_ = model.views(training=False)
    with torch.no_grad():
        model.bundle_emb[0] += 1.0  # bundle 0 holds items 0 and 1
    _, items_after, *_ = model.views(training=False)
    moved = (items_after - items_before).abs().sum(1) > 1e-6
    assert moved.tolist() == [True, True, False, False, False, False]

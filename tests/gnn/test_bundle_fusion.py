"""Bundle EASE (shared items in the Gram matrix) and the standardised GNN + EASE + popularity fusion."""

from __future__ import annotations

import pytest
import torch

from kgrec.gnn.contract import Interactions, RecModel
from kgrec.gnn.models.bundle_fusion import BundleEASE, BundleEASEConfig, FusedBundleModel, standardise
from kgrec.kg.errors import ModelError

# bundles 0 and 2 share item 0 but no user took both; bundle 1 and 3 share nothing with them
BUNDLE_ITEMS = torch.tensor([[0, 0, 1, 2, 2, 3], [0, 1, 2, 0, 3, 4]])
USER_BUNDLES = torch.tensor([[0, 1, 1, 2, 3, 3], [0, 1, 3, 2, 1, 3]])
# user 4 took no bundle but read item 4 (only in bundle 3); users 1 and 3 read items 2 and 4
USER_ITEMS = torch.tensor([[1, 1, 3, 3, 4], [2, 4, 2, 4, 4]])


def fitted(item_weight: float, profile_weight: float = 0.0, profile_input: float = 0.0) -> BundleEASE:
    config = BundleEASEConfig(1.0, item_weight, profile_weight, profile_input)
    model = BundleEASE(5, 4, 5, USER_ITEMS, BUNDLE_ITEMS, config)
    model.fit(Interactions(5, 4, USER_BUNDLES))
    return model


def test_shared_items_make_bundles_similar_only_when_weighted() -> None:
    plain, with_items = fitted(0.0).score_all(torch.tensor([0])), fitted(1.0).score_all(torch.tensor([0]))
    assert plain[0, 2] == pytest.approx(0.0)  # user 0 took bundle 0; nobody took 0 and 2 together
    assert with_items[0, 2] > 0.0 and with_items[0, 2] > with_items[0, 1]
    assert torch.allclose(
        fitted(1.0).score(torch.tensor([0, 1]), torch.tensor([2, 0])),
        with_items.new_tensor([with_items[0, 2], fitted(1.0).score_all(torch.tensor([1]))[0, 0]]),
    )


def test_ease_refuses_wrong_sizes_and_unfitted_use() -> None:
    with pytest.raises(ModelError):
        BundleEASE(5, 4, 5, USER_ITEMS, BUNDLE_ITEMS).score_all(torch.tensor([0]))
    with pytest.raises(ModelError):
        BundleEASE(5, 2, 5, USER_ITEMS, BUNDLE_ITEMS)
    with pytest.raises(ModelError):
        BundleEASE(3, 4, 5, USER_ITEMS, BUNDLE_ITEMS)
    with pytest.raises(ModelError):
        BundleEASE(5, 4, 5, USER_ITEMS, BUNDLE_ITEMS).fit(Interactions(5, 5, USER_BUNDLES))


def test_item_profile_scores_a_user_without_bundles_only_as_input() -> None:
    """User 4 read item 4 (bundle 3's): as input, the profile lights up bundles similar to bundle 3."""
    user = torch.tensor([4])
    assert torch.equal(fitted(0.0, 1.0).score_all(user), torch.zeros(1, 4))
    scores = fitted(0.0, 1.0, 1.0).score_all(user)[0]
    assert scores[1] > 0 and scores[1] == scores.max()  # users 1 and 3 took bundles 1 and 3 together


class Fixed(RecModel):
    """Scores from a fixed matrix (a stand-in for a trained GNN)."""

    trainable = False

    def __init__(self, scores: torch.Tensor) -> None:
        super().__init__()
        self.scores = scores

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.scores[users, items]

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return self.scores[users]


def test_fusion_weights_move_the_ranking_from_gnn_to_popularity() -> None:
    gnn = Fixed(torch.tensor([[4.0, 3.0, 2.0, 1.0]] * 4) * 100)  # scale must not matter
    train = Interactions(4, 4, USER_BUNDLES)  # bundle 1 and 3 are the most popular
    ease = fitted(0.3, 0.3)
    users = torch.arange(4)
    gnn_only = FusedBundleModel(gnn, ease, train, 0.0, 0.0).score_all(users)
    assert torch.equal(gnn_only.argsort(1, descending=True), torch.tensor([[0, 1, 2, 3]] * 4))
    popular = FusedBundleModel(gnn, ease, train, 0.0, 100.0).score_all(users)
    assert set(popular[0].topk(2).indices.tolist()) == {1, 3}


def test_standardise_rows() -> None:
    z = standardise(torch.tensor([[1.0, 2.0, 3.0], [10.0, 10.0, 10.0]]))
    assert torch.allclose(z[0], torch.tensor([-1.0, 0.0, 1.0])) and torch.equal(z[1], torch.zeros(3))

"""Baselines against hand-computed scores on tiny interaction matrices."""

from __future__ import annotations

import math

import pytest
import torch

from kgrec.gnn.contract import Interactions
from kgrec.gnn.models.baselines import EASE, ItemKNN, Popularity, TextSimilarity, interaction_matrix
from kgrec.kg.errors import ModelError

# u0: {0, 1}; u1: {0, 1, 2}; u2: {2} (u1's item 0 listed twice: binarised)
TRAIN = Interactions(3, 3, torch.tensor([[0, 0, 1, 1, 1, 1, 2], [0, 1, 0, 0, 1, 2, 2]]))
ALL = torch.arange(3)


def test_interaction_matrix_is_binary() -> None:
    assert interaction_matrix(TRAIN).toarray().tolist() == [[1, 1, 0], [1, 1, 1], [0, 0, 1]]


def test_popularity_counts_training_interactions() -> None:
    m = Popularity()
    m.fit(TRAIN)
    assert m.score_all(ALL)[0].tolist() == [3.0, 2.0, 2.0]  # edge counts, repeat included
    assert m.score(torch.tensor([2]), torch.tensor([1])).tolist() == [2.0]
    assert not m.trainable


def test_itemknn_cosine_and_topk() -> None:
    # cos(0,1) = 2/sqrt(2*2) = 1, cos(0,2) = cos(1,2) = 1/2
    m = ItemKNN(k=2)
    m.fit(TRAIN)
    s = m.score_all(ALL)
    assert s[0].tolist() == pytest.approx([1.0, 1.0, 1.0])  # u0 {0,1}: s(.,2)=.5+.5
    assert s[2].tolist() == pytest.approx([0.5, 0.5, 0.0])  # self-similarity is zero
    m1 = ItemKNN(k=1)
    m1.fit(TRAIN)
    assert m1.score_all(ALL)[2].tolist()[:2] == pytest.approx([0.0, 0.0])  # 2 not in top-1


def test_text_similarity_profile_is_mean_embedding() -> None:
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    m = TextSimilarity(emb)
    m.fit(TRAIN)
    s = m.score_all(torch.tensor([0, 2]))
    assert s[0].tolist() == pytest.approx([1 / math.sqrt(2), 1 / math.sqrt(2), 1.0])
    assert s[1].tolist() == pytest.approx([1 / math.sqrt(2), 1 / math.sqrt(2), 1.0])
    with pytest.raises(ModelError):
        TextSimilarity(emb[:2]).fit(TRAIN)


def test_ease_hand_computed_two_items() -> None:
    # X = [[1, 1]], lambda = 1: P = 1/3 [[2,-1],[-1,2]], B_01 = -P_01/P_11 = 1/2
    m = EASE(l2=1.0)
    m.fit(Interactions(1, 2, torch.tensor([[0, 0], [0, 1]])))
    assert m.weights.flatten().tolist() == pytest.approx([0.0, 0.5, 0.5, 0.0])
    assert m.score_all(torch.tensor([0]))[0].tolist() == pytest.approx([0.5, 0.5])


def test_ease_satisfies_its_optimality_condition() -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 8, generator=g) < 0.3).nonzero().t()
    m = EASE(l2=2.0)
    m.fit(Interactions(30, 8, x))
    gram = torch.from_numpy(
        interaction_matrix(Interactions(30, 8, x)).toarray().T @ interaction_matrix(Interactions(30, 8, x)).toarray()
    ).float()
    resid = (gram + 2.0 * torch.eye(8)) @ m.weights - gram  # KKT: must be diagonal
    assert torch.allclose(resid - torch.diag(resid.diagonal()), torch.zeros(8, 8), atol=1e-3)
    assert m.weights.diagonal().abs().max() == 0
    with pytest.raises(ModelError):
        EASE(max_items=4).fit(Interactions(30, 8, x))


def test_unfitted_baseline_raises() -> None:
    with pytest.raises(ModelError):
        Popularity().score_all(ALL)


def test_rating_bias_baseline_and_message_graph() -> None:
    from kgrec.gnn.models.rating import RatingConfig, RatingGNN, Ratings, fit_biases, message_graph, rmse

    # 2 users x 2 items, all four ratings: with reg=0 ALS converges to the exact additive fit
    r = Ratings(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 0, 1]), torch.tensor([5.0, 3.0, 4.0, 2.0]))
    mu, bu, bi = fit_biases(r, 2, 2, reg=0.0, iters=50)
    assert mu == pytest.approx(3.5)
    pred = mu + bu[r.users] + bi[r.items]
    assert pred.tolist() == pytest.approx([5.0, 3.0, 4.0, 2.0], abs=1e-4)
    assert rmse(torch.tensor([1.0, 3.0]), torch.tensor([2.0, 5.0])) == pytest.approx(math.sqrt(2.5))
    g = message_graph(r)
    assert g[("user", "r5", "item")].tolist() == [[0], [0]]
    assert g[("item", "rev_r3", "user")].tolist() == [[1], [0]]
    assert g[("user", "r1", "item")].shape == (2, 0)
    model = RatingGNN(2, 2, torch.eye(2), torch.ones(2, 3), mu, RatingConfig(hidden=8))
    out = model.predict(g, r.users, r.items)
    assert out.shape == (4,) and float(out.min()) >= 1.0 and float(out.max()) <= 5.0

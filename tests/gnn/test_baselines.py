"""Baselines against hand-computed scores on tiny interaction matrices."""

from __future__ import annotations

import math

import pytest
import torch

from kgrec.gnn.contract import Interactions
from kgrec.gnn.graph_ops import interaction_matrix
from kgrec.gnn.models.baselines import EASE, EASEConfig, ItemKNN, ItemKNNConfig, Popularity, TextSimilarity
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
    m = ItemKNN(ItemKNNConfig(k=2))
    m.fit(TRAIN)
    s = m.score_all(ALL)
    assert s[0].tolist() == pytest.approx([1.0, 1.0, 1.0])  # u0 {0,1}: s(.,2)=.5+.5
    assert s[2].tolist() == pytest.approx([0.5, 0.5, 0.0])  # self-similarity is zero
    m1 = ItemKNN(ItemKNNConfig(k=1))
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
    m = EASE(EASEConfig(l2=1.0))
    m.fit(Interactions(1, 2, torch.tensor([[0, 0], [0, 1]])))
    assert m.weights.flatten().tolist() == pytest.approx([0.0, 0.5, 0.5, 0.0])
    assert m.score_all(torch.tensor([0]))[0].tolist() == pytest.approx([0.5, 0.5])


def test_ease_satisfies_its_optimality_condition() -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 8, generator=g) < 0.3).nonzero().t()
    m = EASE(EASEConfig(l2=2.0))
    m.fit(Interactions(30, 8, x))
    gram = torch.from_numpy(
        interaction_matrix(Interactions(30, 8, x)).toarray().T @ interaction_matrix(Interactions(30, 8, x)).toarray()
    ).float()
    resid = (gram + 2.0 * torch.eye(8)) @ m.weights - gram  # KKT: must be diagonal
    assert torch.allclose(resid - torch.diag(resid.diagonal()), torch.zeros(8, 8), atol=1e-3)
    assert m.weights.diagonal().abs().max() == 0
    with pytest.raises(ModelError):
        EASE(EASEConfig(max_items=4)).fit(Interactions(30, 8, x))


def test_unfitted_baseline_raises() -> None:
    with pytest.raises(ModelError):
        Popularity().score_all(ALL)

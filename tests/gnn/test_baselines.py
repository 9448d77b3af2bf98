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


def test_rp3beta_blocks_equal_the_dense_walk() -> None:
    # the chunked fit keeps, per source item, the top_k of W = (P_iu^a P_ui^a) / n_j^beta, diagonal zero
    import numpy as np

    from kgrec.gnn.models.rp3beta import RP3beta, RP3betaConfig

    g = torch.Generator().manual_seed(1)
    pairs = (torch.rand(40, 9, generator=g) < 0.35).nonzero().t()
    train = Interactions(40, 9, pairs)
    x = interaction_matrix(train).toarray().astype(np.float64)
    a, b = 0.8, 0.4
    p_ui = (x / np.maximum(x.sum(1, keepdims=True), 1)) ** a
    p_iu = (x.T / np.maximum(x.sum(0)[:, None], 1)) ** a
    w = (p_iu @ p_ui) / np.maximum(x.sum(0), 1) ** b
    np.fill_diagonal(w, 0.0)
    chunked = RP3beta(RP3betaConfig(alpha=a, beta=b, top_k=8), chunk=4)  # 3 blocks, one partial
    chunked.fit(train)
    assert chunked.sim is not None
    assert np.allclose(chunked.sim.toarray(), w, atol=1e-6)
    pruned = RP3beta(RP3betaConfig(alpha=a, beta=b, top_k=2), chunk=4)
    pruned.fit(train)
    assert pruned.sim is not None and (pruned.sim.getnnz(axis=1) <= 2).all()


def test_ease_scores_from_sparse_rows_equal_dense_product() -> None:
    g = torch.Generator().manual_seed(2)
    train = Interactions(20, 7, (torch.rand(20, 7, generator=g) < 0.4).nonzero().t())
    m = EASE(EASEConfig(l2=3.0))
    m.fit(train)
    users = torch.tensor([3, 0, 19])
    dense = torch.from_numpy(interaction_matrix(train)[users.numpy()].toarray()) @ m.weights
    assert torch.allclose(m.score_all(users), dense, atol=1e-6)

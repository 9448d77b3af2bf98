"""Shared graph math: normalised adjacency, basket co-occurrence, the negative sampler, devices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kgrec.gnn.contract import Interactions
from kgrec.gnn.graph_ops import (
    NegativeSampler,
    basket_matrix,
    bipartite_adjacency,
    cooccurrence,
    mean_pool_matrix,
    normalized_adjacency,
    resolve_device,
    top_k_per_row,
)
from kgrec.kg.errors import ModelError


def test_normalized_adjacency_equals_d_half_a_d_half() -> None:
    # path 0-1-2 plus the edge 1-3, weighted
    edges = torch.tensor([[0, 1, 1, 2, 1, 3], [1, 0, 2, 1, 3, 1]])
    weight = torch.tensor([1.0, 1.0, 2.0, 2.0, 0.5, 0.5])
    a = torch.zeros(4, 4)
    a[edges[0], edges[1]] = weight
    d = a.sum(1).pow(-0.5)
    expected = d[:, None] * a * d[None, :]
    adj = normalized_adjacency(edges, 4, weight)
    assert adj.layout == torch.sparse_csr
    assert torch.allclose(adj.to_dense(), expected)
    x = torch.randn(4, 3)
    assert torch.allclose(torch.sparse.mm(adj, x), expected @ x, atol=1e-6)


def test_bipartite_adjacency_binarises_and_puts_rows_first() -> None:
    # user 0 - items {0, 1} (item 0 twice); user 1 - item 1. Nodes: u0, u1, i0, i1
    d = bipartite_adjacency(torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 1]), 2, 2).to_dense()
    # degrees: u0=2, u1=1, i0=1, i1=2
    assert d[0, 2].item() == pytest.approx(1 / math.sqrt(2 * 1))
    assert d[0, 3].item() == pytest.approx(1 / math.sqrt(2 * 2))
    assert d[1, 3].item() == pytest.approx(1 / math.sqrt(1 * 2))
    assert torch.equal(d, d.t()) and d[0, 1].item() == 0.0 and d[2, 2].item() == 0.0


def test_mean_pool_matrix_averages_members() -> None:
    m = mean_pool_matrix(np.array([0, 0, 1]), np.array([0, 2, 1]), 3, 3)
    x = torch.tensor([[1.0], [10.0], [3.0]])
    assert torch.sparse.mm(m, x).flatten().tolist() == [2.0, 10.0, 0.0]  # row 2 has no members


def test_basket_matrix_and_cooccurrence() -> None:
    x = basket_matrix([[0, 1, 1], [1, 2], [0, 1]], 4)  # product 1 twice in basket 0 counts once
    assert x.toarray().tolist() == [[1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 0, 0]]
    together, counts = cooccurrence(x)
    assert counts.tolist() == [2, 3, 1, 0]
    assert together.toarray().tolist() == [[0, 2, 0, 0], [2, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]


def test_top_k_per_row_keeps_the_largest_ties_by_column() -> None:
    x = basket_matrix([[0, 1, 2, 3], [0, 2], [0, 3]], 4)
    top = top_k_per_row(cooccurrence(x)[0], 2).toarray()
    assert top[0].tolist() == [0, 0, 2, 2]  # 1 (one basket) loses to 2 and 3 (two baskets each)
    assert top[1].tolist() == [1, 0, 1, 0]  # three partners with 1: columns 0 and 2 win the tie


def test_uniform_negatives_are_never_positives_and_cover_the_rest() -> None:
    positives = {0: {1, 3, 4}, 1: {0}, 2: {0, 1, 2, 3, 4}}
    pairs = [(u, i) for u, items in positives.items() for i in items] + [(0, 3)]  # a repeat
    sampler = NegativeSampler(Interactions(3, 6, torch.tensor(pairs).t()), torch.Generator().manual_seed(0))
    users = torch.tensor([0, 1, 2]).repeat_interleave(600)
    neg = sampler.uniform(users, 4)
    assert neg.shape == (1800, 4)
    for u, items in positives.items():
        drawn = neg[users == u].flatten()
        assert set(drawn.tolist()) == set(range(6)) - items  # every non-positive, no positive
        counts = torch.bincount(drawn, minlength=6)[sorted(set(range(6)) - items)].float()
        assert counts.min() > 0.7 * counts.mean()  # roughly uniform
    full = NegativeSampler(Interactions(1, 2, torch.tensor([[0, 0], [0, 1]])))
    with pytest.raises(ModelError, match="every item"):
        full.uniform(torch.tensor([0]))


def test_hard_negatives_pick_the_best_scored_candidate() -> None:
    sampler = NegativeSampler(Interactions(2, 50, torch.tensor([[0, 1], [49, 0]])), torch.Generator().manual_seed(1))
    users = torch.tensor([0, 1] * 50)
    hard = sampler.hard(lambda u, i: i.float(), users, n=2, candidates=30)  # score = item id
    uniform = sampler.uniform(users, 2)
    assert hard.shape == (100, 2)
    assert not ((users == 0).unsqueeze(1) & (hard == 49)).any()  # user 0's positive never comes back
    assert hard.float().mean() > uniform.float().mean() + 10


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no GPU"):
            resolve_device("cuda")

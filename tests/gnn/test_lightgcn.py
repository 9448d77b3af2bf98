"""LightGCN wrapper: BPR training on a toy graph, cached scoring, several negatives."""

from __future__ import annotations

import pytest
import torch

from kgrec.gnn.contract import Interactions, TrainBatch
from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
from kgrec.kg.errors import ModelError


def toy() -> Interactions:
    # two communities: users 0-3 like items 0-2, users 4-7 like items 3-5
    pairs = [(u, i) for u in range(4) for i in range(3)] + [(u, i) for u in range(4, 8) for i in range(3, 6)]
    return Interactions(8, 6, torch.tensor(pairs).t())


def test_bpr_training_separates_communities() -> None:
    torch.manual_seed(0)
    train = toy()
    m = LightGCNRec(8, 6, LightGCNConfig(embedding_dim=8, num_layers=2, lambda_reg=1e-4))
    m.fit(train)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    users, pos = train.edge_index
    neg = (pos + 3) % 6  # the other community
    losses = []
    for _ in range(60):
        loss = m.loss(TrainBatch(users, pos, neg))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    m.eval()
    s = m.score_all(torch.tensor([0, 5]))
    assert s[0, :3].min() > s[0, 3:].max() and s[1, 3:].min() > s[1, :3].max()
    assert torch.allclose(m.score(torch.tensor([0, 5]), torch.tensor([4, 1])), torch.stack([s[0, 4], s[1, 1]]))
    assert m.embeddings() is m.embeddings()  # cached in eval mode
    m.train()
    assert m._cache is None


def test_multiple_negatives_and_errors() -> None:
    m = LightGCNRec(8, 6, LightGCNConfig(embedding_dim=4, num_layers=1))
    with pytest.raises(ModelError):
        m.score_all(torch.tensor([0]))
    with pytest.raises(ModelError):
        m.fit(Interactions(9, 6, torch.zeros(2, 1, dtype=torch.long)))
    m.fit(toy())
    b = TrainBatch(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([[3, 4], [4, 5]]))
    assert m.loss(b).dim() == 0


def test_vectorised_loss_equals_pyg_recommendation_loss_over_repeated_triples() -> None:
    torch.manual_seed(0)
    m = LightGCNRec(5, 7, LightGCNConfig(embedding_dim=8, num_layers=2, lambda_reg=0.1))
    m.fit(Interactions(5, 7, torch.tensor([[0, 1, 2, 3, 4, 4], [0, 1, 2, 3, 4, 6]])))
    users, pos, neg = torch.tensor([0, 4, 2]), torch.tensor([0, 6, 2]), torch.tensor([[1, 2], [3, 0], [5, 5]])
    ours = m.loss(TrainBatch(users, pos, neg))
    emb = m.embeddings()
    u, p, j = users.repeat_interleave(2), pos.repeat_interleave(2) + 5, neg.reshape(-1) + 5
    ref = m.gcn.recommendation_loss(
        (emb[u] * emb[p]).sum(-1), (emb[u] * emb[j]).sum(-1), node_id=torch.cat([u, p, j]), lambda_reg=0.1
    )
    assert torch.allclose(ours, ref, atol=1e-6)

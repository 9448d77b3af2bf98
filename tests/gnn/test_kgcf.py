"""KGCF: normalised KG adjacency, shapes, cold products scored from text, beats popularity on a toy."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from kgrec.gnn.contract import Interactions, LinkSplit, TrainBatch
from kgrec.gnn.evaluate import evaluate
from kgrec.gnn.models.baselines import Popularity
from kgrec.gnn.models.kgcf import KGCF, KGCFConfig, recent_buyers, sym_norm_adjacency
from kgrec.gnn.models.rp3beta import RP3beta, RP3betaConfig
from kgrec.gnn.train import TrainConfig, train_model
from kgrec.kg.errors import ModelError
from kgrec.kg.export import OrderRows

USERS, ITEMS, THEMES = 24, 12, 2  # items 0-5 theme 0, 6-11 theme 1; item 11 is never bought


def theme(item: int) -> int:
    return item // (ITEMS // THEMES)


def toy(seed: int = 0) -> tuple[HeteroData, LinkSplit]:
    """Users buy within their theme; each user's held-out targets are other items of that theme."""
    g = torch.Generator().manual_seed(seed)
    train, valid = [], []
    for u in range(USERS):
        t = u % THEMES
        items = [i for i in range(ITEMS) if theme(i) == t and i != 11]
        order = torch.randperm(len(items), generator=g).tolist()
        chosen = [items[k] for k in order]
        train += [(u, i) for i in chosen[:3]]
        valid += [(u, i) for i in chosen[3:]]
    # a few popular cross-theme purchases so that popularity is a poor ranker
    train += [(u, 0) for u in range(1, USERS, 2)]
    split = LinkSplit(*(Interactions(USERS, ITEMS, torch.tensor(p).t()) for p in (train, valid, valid)))
    data = HeteroData()
    data["user"].num_nodes, data["product"].num_nodes, data["category"].num_nodes = USERS, ITEMS, THEMES
    text = torch.zeros(ITEMS, 8)
    for i in range(ITEMS):
        text[i, theme(i)] = 1.0
        text[i, 2 + i % 6] = 0.3
    data["product"].x = text
    data["product"].x_mask = torch.ones(ITEMS, dtype=torch.bool)
    cat = torch.tensor([list(range(ITEMS)), [theme(i) for i in range(ITEMS)]])
    data["product", "in_category", "category"].edge_index = cat
    data["category", "rev_in_category", "product"].edge_index = cat.flip(0)
    data["user", "buys", "product"].edge_index = split.train.edge_index
    return data, split


def test_sym_norm_adjacency_values() -> None:
    # path 0-1-2 plus a duplicated edge 0-1 (max weight kept) and a weight-2 edge 2-3
    adj = sym_norm_adjacency(torch.tensor([0, 1, 1, 2]), torch.tensor([1, 0, 2, 3]), torch.tensor([1, 1, 1, 2.0]), 4)
    d = adj.to_dense()
    assert torch.equal(d, d.t())
    deg = torch.tensor([1.0, 2.0, 3.0, 2.0])
    assert d[0, 1].item() == pytest.approx(1 / math.sqrt(deg[0] * deg[1]))
    assert d[1, 2].item() == pytest.approx(1 / math.sqrt(deg[1] * deg[2]))
    assert d[2, 3].item() == pytest.approx(2 / math.sqrt(deg[2] * deg[3]))
    assert d.diagonal().abs().sum().item() == 0.0 and d[0, 2].item() == 0.0


def test_from_data_shapes_and_graph() -> None:
    data, split = toy()
    m = KGCF.from_data(data, KGCFConfig(dim=8, fuse_weight=0.0, trend_weight=0.0))
    assert m.num_nodes == USERS + ITEMS + THEMES and m.kg_edges.size(1) == ITEMS
    m.fit(split.train)
    assert m._adj is not None and m._adj.shape == (m.num_nodes, m.num_nodes)
    m.eval()
    users = torch.tensor([0, 3, 5])
    s = m.score_all(users)
    assert s.shape == (3, ITEMS) and torch.isfinite(s).all()
    assert torch.allclose(m.score(users, torch.tensor([1, 2, 11])), s[torch.arange(3), torch.tensor([1, 2, 11])])
    idonly = KGCF.from_data(data, KGCFConfig(dim=8, relations=(), use_text=False))
    assert idonly.kg_edges.size(1) == 0 and idonly.text_proj is None
    with pytest.raises(ModelError):
        KGCF(3, 2).fit(split.train)
    no_text = KGCF(USERS, ITEMS, text=torch.zeros(ITEMS, 0))  # products without text vectors (no `kgrec embed`)
    no_text.fit(split.train)
    assert no_text.text_proj is None and torch.isfinite(no_text.eval().score_all(users)).all()


def test_loss_with_several_negatives_backpropagates_into_text() -> None:
    data, split = toy()
    m = KGCF.from_data(data, KGCFConfig(dim=8, cl_weight=0.1, in_batch=True, hard_keep=2))
    m.fit(split.train)
    users, pos = split.train.edge_index
    loss = m.loss(TrainBatch(users, pos, torch.randint(ITEMS, (users.numel(), 4))))
    loss.backward()
    assert torch.isfinite(loss) and m.text_proj is not None and m.text_proj.weight.grad is not None
    assert m.text_proj.weight.grad.abs().sum() > 0
    bpr = KGCF.from_data(data, KGCFConfig(dim=8, objective="bpr", cl_weight=0.0))
    bpr.fit(split.train)
    assert torch.isfinite(bpr.loss(TrainBatch(users, pos, torch.randint(ITEMS, (users.numel(),)))))


def trained(config: KGCFConfig) -> tuple[KGCF, LinkSplit]:
    torch.manual_seed(0)
    data, split = toy()
    m = KGCF.from_data(data, config)
    m.fit(split.train)
    cfg = TrainConfig(epochs=40, batch_size=32, lr=0.05, num_negatives=4, patience=40, progress=False)
    train_model(m, split, cfg)
    return m, split


def test_beats_popularity_and_scores_cold_product_from_text() -> None:
    m, split = trained(KGCFConfig(dim=16, num_layers=2, fuse_weight=0.0, trend_weight=0.0))
    pop = Popularity()
    pop.fit(split.train)
    r_model = evaluate(m, split, "valid", ks=(3,))["recall@3"]
    r_pop = evaluate(pop, split, "valid", ks=(3,))["recall@3"]
    assert r_model > r_pop + 0.1
    # item 11 (theme 1) was never bought: theme-1 users must rank it above theme-0 users do
    s = m.score_all(torch.arange(USERS))
    cold = s[:, 11]
    assert torch.isfinite(cold).all() and cold.std() > 0
    assert cold[1::2].mean() > cold[0::2].mean()


def test_ease_fusion_and_rp3beta() -> None:
    m, split = trained(KGCFConfig(dim=8, num_layers=1, fuse_weight=0.0, trend_weight=0.0))
    gnn = m.score_all(torch.arange(USERS))
    m.config = replace(m.config, fuse_weight=0.5, ease_l2=1.0)
    assert m.ease is None  # not fitted while fuse_weight was 0
    m.fit(split.train)
    m.eval()
    fused = m.score_all(torch.arange(USERS))
    assert fused.shape == gnn.shape and not torch.allclose(fused, gnn)
    assert torch.allclose(fused.mean(1), torch.zeros(USERS), atol=1e-4)
    assert m.ease is not None
    x = torch.from_numpy(m.ease[0].toarray())
    z = lambda s: (s - s.mean(1, keepdim=True)) / s.std(1, keepdim=True)  # noqa: E731  (module doc's formula)
    assert torch.allclose(fused, z(gnn) + 0.5 * z(x @ m.ease[1]), atol=1e-5)
    m.config = replace(m.config, gnn_weight=2.0, trend_weight=1.0)
    m.trend = t = torch.arange(ITEMS).float()
    expected = 2.0 * z(gnn) + 0.5 * z(x @ m.ease[1]) + ((t - t.mean()) / t.std()).unsqueeze(0)
    assert torch.allclose(m.score_all(torch.arange(USERS)), expected, atol=1e-5)
    assert torch.equal(m.gnn_scores(torch.arange(USERS)), gnn)  # the cached embeddings were not standardised in place
    rp3 = RP3beta(RP3betaConfig(alpha=1.0, beta=0.3, top_k=5))
    rp3.fit(split.train)
    assert evaluate(rp3, split, "valid", ks=(3,))["recall@3"] > 0.3


def test_recent_buyers_and_trend_term() -> None:
    day = 86400
    orders = OrderRows(
        user=np.array([0, 1, 1, 2, 2]),
        order=np.array([0, 1, 1, 2, 2]),
        product=np.array([0, 0, 1, 1, 1]),
        timestamp=np.array([0, 30 * day, 30 * day, 31 * day, 31 * day]),
        order_ids=["a", "b", "c"],
    )
    trend = recent_buyers(orders, np.ones(5, dtype=bool), 3, days=14)  # user 0's old line is too old
    assert torch.allclose(trend, torch.log1p(torch.tensor([1.0, 2.0, 0.0])))
    data, split = toy()
    m = KGCF.from_data(
        data, KGCFConfig(dim=4, fuse_weight=0.0, trend_weight=1.0, gnn_weight=0.0), trend=torch.arange(ITEMS).float()
    )
    m.fit(split.train)
    m.eval()
    assert (m.score_all(torch.arange(4)).argmax(1) == ITEMS - 1).all()


def test_training_sees_the_gnn_alone_and_serving_gets_the_fusion_back() -> None:
    data, split = toy()
    config = KGCFConfig(dim=8, num_layers=1, fuse_weight=0.5, ease_l2=1.0, trend_weight=1.0)
    m = KGCF.from_data(data, config, trend=torch.arange(ITEMS).float())
    m.fit(split.train)
    seen: list[KGCFConfig] = []
    original = m.gnn_scores

    def spy(users: torch.Tensor) -> torch.Tensor:
        seen.append(m.config)
        return original(users)

    m.gnn_scores = spy  # type: ignore[method-assign]
    train_model(m, split, TrainConfig(epochs=2, batch_size=16, progress=False, device="cpu"))
    assert seen and all(c.fuse_weight == 0 and c.trend_weight == 0 for c in seen)  # early stopping: GNN alone
    assert m.config == config and m.ease is not None
    users = torch.arange(USERS)
    assert not torch.allclose(m.score_all(users), original(users))  # served: fused again


def test_recommender_serves_kgcf_with_fresh_orders_masked(tmp_path: Path) -> None:
    from kgrec.gnn.checkpoint import load_checkpoint, save_checkpoint
    from kgrec.gnn.data import DataConfig, prepare_data
    from kgrec.gnn.recommender import Recommender
    from kgrec.gnn.registry import model_for_data
    from kgrec.kg.errors import UnknownEntityError
    from tests.gnn.test_data import ROWS, snapshot

    snap = snapshot()
    prepared = prepare_data(snap, DataConfig(split="temporal", valid_frac=0.2, test_frac=0.2, min_eval_users=1))
    model = model_for_data("kgcf", prepared, {"dim": 8, "num_layers": 1, "ease_l2": 1.0})
    result = train_model(model, prepared.split, TrainConfig(epochs=2, batch_size=8, progress=False, device="cpu"))
    path = save_checkpoint(tmp_path / "kgcf.pt", model, prepared.id_maps, {"learned": result.learned})
    # later: a new customer u3 bought p0 and a new product p8 (unknown to the model)
    rows = [*ROWS, (3, 10, 0, 11), (3, 10, 8, 11)]
    u, o, p, t = (np.array(c, dtype=np.int64) for c in zip(*rows, strict=True))
    fresh = replace(
        snap,
        ids={"user": [*snap.ids["user"], "u3"], "product": [*snap.ids["product"], "p8"]},
        orders=OrderRows(u, o, p, t, [f"o{i}" for i in range(11)]),
        product_embeddings=np.zeros((9, 4), np.float32),
        embedding_mask=np.zeros(9, bool),
        product_titles=[None] * 9,
    )
    rec = Recommender(load_checkpoint(path), "cpu").use_snapshot(fresh)
    bought = {f"p{r[2]}" for r in rows if r[0] == 0}  # test-period orders included: fresh orders are masked
    top = [r.product_id for r in rec.recommend("u0", k=8)]
    assert top and not set(top) & bought and "p8" not in top
    assert [r.product_id for r in rec.recommend("u3", k=3)]  # new to the model: scored from its basket
    assert "p0" not in [r.product_id for r in rec.recommend_for_basket(["p0"], k=3)]
    assert len(rec.similar_products("p1", k=2)) == 2 and len(rec.score("u0", ["p4", "p5"])) == 2
    with pytest.raises(UnknownEntityError):
        rec.recommend_for_basket(["p8"])
    refused = replace(load_checkpoint(path), info={"learned": False, "metric": "recall@20"})
    with pytest.raises(ModelError, match="did not learn"):
        Recommender(refused, "cpu")


def test_fusion_weights_are_chosen_on_validation() -> None:
    data, split = toy()
    m = KGCF.from_data(data, KGCFConfig(dim=8, num_layers=1, fuse_weight=0.0, ease_l2=1.0, trend_weight=2.2))
    m.fit(split.train)
    m.eval()
    best = {(0.5, 0.0): 2.0, (1.0, 0.5): 1.0}
    chosen = m.tune_fusion(lambda: best.get((m.config.fuse_weight, m.config.trend_weight), 0.0))
    assert chosen == {"fuse_weight": 0.5, "trend_weight": 0.0, "valid": 2.0} and m.ease is not None
    assert (m.config.fuse_weight, m.config.trend_weight) == (0.5, 0.0)
    m.tune_fusion(lambda: 0.0)  # all tied: the current weights stay
    assert (m.config.fuse_weight, m.config.trend_weight) == (0.5, 0.0)


def test_sampled_loss_gathered_pairs_equal_full_score_matrix() -> None:
    # large catalogue: the sampled objectives gather (user, item) pairs instead of a [U_b, I] matrix; same loss
    torch.manual_seed(0)
    users, items = 30, 400
    train = Interactions(users, items, torch.stack([torch.arange(60) % users, torch.arange(60) * 7 % items]))
    batch = TrainBatch(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 7, 14, 21]), torch.randint(0, items, (4, 5)))
    for objective in ("softmax", "bpr"):
        cfg = KGCFConfig(use_text=False, relations=(), objective=objective, cl_weight=0.0, id_dropout=0.0)
        model = KGCF(users, items, config=cfg)
        model.fit(train)
        gathered = model.loss(batch)  # 3 users x 400 items > 8 x 20 sampled pairs: gather path
        emb = model.propagate()[0]
        e_u, e_p = emb[batch.users], emb[batch.pos_items + users]
        pos = (e_u * e_p).sum(-1)
        neg = torch.einsum("bd,bnd->bn", e_u, emb[batch.neg_items + users])
        if objective == "bpr":
            rec = -torch.nn.functional.logsigmoid(pos.unsqueeze(1) - neg).mean()
        else:
            rec = -torch.log_softmax(torch.cat([pos.unsqueeze(1), neg], 1) / cfg.tau, 1)[:, 0].mean()
        nodes = torch.cat([batch.users, batch.pos_items + users, (batch.neg_items + users).reshape(-1)])
        e0 = model.embedding.weight
        reg = cfg.reg * e0[nodes].pow(2).sum() / (2 * batch.users.numel())
        assert torch.allclose(gathered, rec + reg, atol=1e-5)

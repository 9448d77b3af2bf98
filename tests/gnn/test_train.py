"""End-to-end training from the real graph, the trainer's options, checkpoint round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgrec.gnn.checkpoint import build_model, load_checkpoint, save_checkpoint
from kgrec.gnn.data import DataConfig, align_id_index, build_hetero_data, prepare_data
from kgrec.gnn.models.hetero_sage import HeteroSAGE
from kgrec.gnn.train import NegativeSampler, RunConfig, TrainConfig, build_model_for, train_model, train_on_graph
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import ModelError
from kgrec.kg.export import export_graph
from tests.shop_graphs import build_shop_graph, set_random_vectors

FAST = TrainConfig(epochs=6, batch_size=64, patience=100, lr=0.01, progress=False)


def test_train_on_graph_learns_and_writes_artefacts(graph: GraphConnection, tmp_path: Path) -> None:
    shop = build_shop_graph(graph, n_users=20, per_theme=6, orders_per_user=5)
    set_random_vectors(graph, shop.products, dim=8)
    result = train_on_graph(
        graph, RunConfig(data=DataConfig(valid_frac=0.15, test_frac=0.15), train=FAST, out_dir=str(tmp_path))
    )
    losses = [s.loss for s in result.history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert all(s.valid and s.seconds > 0 for s in result.history)
    assert 1 <= result.best_epoch <= 6 and result.metric == "recall@20"
    assert result.test and 0.0 <= result.test["recall@20"] <= 1.0
    assert Path(result.checkpoint).is_file() and Path(result.plot).stat().st_size > 1000
    assert "| epoch |" in (tmp_path / "hetero_sage_history.md").read_text()
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.kind == "hetero_sage" and ckpt.id_maps["user"] == sorted(shop.users)
    assert set(ckpt.versions) == {"torch", "torch_geometric", "kgrec"}
    assert ckpt.info["best_epoch"] == result.best_epoch


def test_checkpoint_round_trip_gives_identical_scores(graph: GraphConnection, tmp_path: Path) -> None:
    shop = build_shop_graph(graph, n_users=12, per_theme=5, orders_per_user=4)
    set_random_vectors(graph, shop.products, dim=8)
    prepared = prepare_data(export_graph(graph))
    model = build_model_for(prepared, RunConfig())
    train_model(model, prepared.split, TrainConfig(epochs=2, batch_size=64, progress=False))
    path = save_checkpoint(tmp_path / "m.pt", model, prepared.id_maps, {"note": "test"})
    raw = torch.load(path, weights_only=True)  # loads without unpickling code
    assert raw["info"] == {"note": "test"}
    ckpt = load_checkpoint(path)
    loaded = build_model(ckpt)
    assert isinstance(loaded, HeteroSAGE)
    snap = prepared.snapshot
    data = build_hetero_data(
        snap,
        prepared.split.train,
        prepared.copurchase,
        metadata=(loaded.node_types, loaded.edge_types),
        id_index=align_id_index(snap, ckpt.id_maps),
    )
    loaded.attach(data).eval()
    model.eval()
    users = torch.arange(prepared.split.train.num_users)
    assert torch.allclose(model.score_all(users), loaded.score_all(users), atol=1e-6)
    assert torch.allclose(
        model.score_products(torch.tensor([0, 1])), loaded.score_products(torch.tensor([0, 1])), atol=1e-6
    )
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(ModelError):
        load_checkpoint(tmp_path / "missing.pt")


def test_trainer_options_bce_hard_negatives_and_lightgcn(graph: GraphConnection, tmp_path: Path) -> None:
    shop = build_shop_graph(graph, n_users=12, per_theme=5, orders_per_user=4)
    set_random_vectors(graph, shop.products, dim=8)
    prepared = prepare_data(export_graph(graph))
    split = prepared.split
    sampler = NegativeSampler(split.train, torch.Generator().manual_seed(0))
    users = split.train.edge_index[0]
    neg = sampler.uniform(users, 3)
    keys = set((split.train.edge_index[0] * split.train.num_items + split.train.edge_index[1]).tolist())
    assert neg.shape == (users.numel(), 3)
    assert not keys & set((users.unsqueeze(1) * split.train.num_items + neg).flatten().tolist())
    model = build_model_for(prepared, RunConfig())
    hard = sampler.hard(model, users[:8], 2, 4, torch.device("cpu"))
    assert hard.shape == (8, 2)
    cfg = TrainConfig(epochs=2, batch_size=64, loss="bce", negatives="hard", progress=False)
    result = train_model(model, split, cfg)
    assert model.config.loss == "bce" and len(result.history) == 2
    lightgcn = build_model_for(prepared, RunConfig(model="lightgcn"))
    result = train_model(lightgcn, split, TrainConfig(epochs=2, batch_size=64, progress=False))
    assert result.model_name == "lightgcn" and all(s.valid for s in result.history)
    save_checkpoint(tmp_path / "l.pt", lightgcn, prepared.id_maps)
    again = build_model(load_checkpoint(tmp_path / "l.pt"))
    again.fit(split.train)
    lightgcn.eval()
    assert torch.allclose(again.score_all(torch.arange(3)), lightgcn.score_all(torch.arange(3)), atol=1e-6)

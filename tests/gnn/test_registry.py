"""The model registry: one name per model, configs from mappings, checkpoints that round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from kgrec.gnn.checkpoint import load_checkpoint, restore_model, save_checkpoint
from kgrec.gnn.contract import Interactions
from kgrec.gnn.models.baselines import ItemKNNConfig, Popularity
from kgrec.gnn.models.hetero_sage import HeteroSAGE, HeteroSAGEConfig
from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
from kgrec.gnn.registry import build_model, describe, entry, make_config, model_names
from kgrec.kg.errors import ModelError

TRAIN = Interactions(4, 5, torch.tensor([[0, 0, 1, 2, 3], [0, 1, 2, 3, 4]]))


def test_one_name_per_model_class() -> None:
    assert entry("lightgcn").cls is LightGCNRec and entry("hetero_sage").cls is HeteroSAGE
    assert {"hetero_sage", "lightgcn"} <= set(model_names(trainable=True))
    assert not {"hetero_sage", "lightgcn"} & set(model_names(trainable=False))
    assert {"popularity", "itemknn", "ease", "text"} <= set(model_names(trainable=False))
    assert entry("crosscbr").cls.name == "crosscbr"  # the bundle model: registered, built from bundle graphs
    with pytest.raises(ModelError, match="unknown model 'gnn'"):
        entry("gnn")


def test_configs_from_instances_mappings_and_defaults() -> None:
    assert make_config("lightgcn") == LightGCNConfig()
    assert make_config("lightgcn", {"num_layers": 1}) == LightGCNConfig(num_layers=1)
    assert make_config("itemknn", ItemKNNConfig(k=5)).k == 5
    assert make_config("popularity") is None
    with pytest.raises(ModelError, match="no field"):
        make_config("lightgcn", {"layers": 1})
    with pytest.raises(ModelError, match="expects a LightGCNConfig"):
        make_config("lightgcn", HeteroSAGEConfig())


def test_lightgcn_checkpoint_round_trip(tmp_path: Path) -> None:
    model = build_model("lightgcn", {"embedding_dim": 8, "num_layers": 2}, num_users=4, num_items=5)
    assert isinstance(model, LightGCNRec) and model.config.embedding_dim == 8
    torch.nn.init.normal_(model.gcn.embedding.weight)
    model.fit(TRAIN)
    path = save_checkpoint(tmp_path / "lightgcn.pt", model, {"user": list("abcd"), "product": list("vwxyz")})
    raw = torch.load(path, weights_only=True)  # plain data + tensors only
    assert raw["model"] == "lightgcn" and raw["config"]["embedding_dim"] == 8
    assert raw["dims"] == {"num_users": 4, "num_items": 5}
    ckpt = load_checkpoint(path)
    again = restore_model(ckpt)
    again.fit(TRAIN)
    model.eval()
    users = torch.arange(4)
    assert torch.allclose(again.score_all(users), model.score_all(users))
    assert ckpt.id_maps["product"] == list("vwxyz")


def test_hetero_sage_rebuilds_from_its_dims() -> None:
    model = build_model(
        "hetero_sage",
        HeteroSAGEConfig(hidden=8, num_layers=1),
        metadata=[["user", "product"], [["user", "buys", "product"], ["product", "rev_buys", "user"]]],
        num_nodes={"user": 3, "product": 4},
        text_dim=2,
    )
    name, config, dims = describe(model)
    clone = build_model(name, config, **dims)
    assert name == "hetero_sage" and config["hidden"] == 8
    assert clone.state_dict().keys() == model.state_dict().keys()
    assert all(
        a.shape == b.shape for a, b in zip(clone.state_dict().values(), model.state_dict().values(), strict=True)
    )


def test_fitted_baselines_are_not_checkpointed(tmp_path: Path) -> None:
    pop = Popularity()
    pop.fit(TRAIN)
    with pytest.raises(ModelError, match="cannot checkpoint"):
        save_checkpoint(tmp_path / "p.pt", pop, {})
    old = tmp_path / "old.pt"
    torch.save({"format": 1, "kind": "lightgcn"}, old)
    with pytest.raises(ModelError, match="format 1"):
        load_checkpoint(old)


def test_kgcf_and_rp3beta_are_registered_and_kgcf_is_served() -> None:
    from kgrec.gnn.models.kgcf import KGCF, KGCFConfig
    from kgrec.gnn.models.rp3beta import RP3beta, RP3betaConfig
    from kgrec.gnn.registry import SERVED
    from kgrec.gnn.train import RunConfig

    assert SERVED == "kgcf" == RunConfig().model and entry("kgcf").cls is KGCF
    assert "kgcf" in model_names(trainable=True) and "rp3beta" in model_names(trainable=False)
    assert entry("rp3beta").cls is RP3beta and make_config("rp3beta", {"beta": 0.2}) == RP3betaConfig(beta=0.2)
    assert make_config("kgcf", {"relations": ["in_category"]}).relations == ("in_category",)  # JSON lists back
    assert make_config("kgcf") == KGCFConfig()


def test_kgcf_checkpoint_restores_graph_text_and_trend(tmp_path: Path) -> None:
    from kgrec.gnn.models.kgcf import KGCF, KGCFConfig

    kg = torch.tensor([[0, 5, 6], [9, 9, 10]])  # users 0-3, products 4-8, two category nodes 9-10
    text, trend = torch.randn(5, 3), torch.tensor([0.0, 1.0, 2.0, 0.5, 0.0])
    config = KGCFConfig(dim=4, fuse_weight=0.5, ease_l2=1.0, trend_weight=1.0)
    model = KGCF(4, 5, kg, torch.ones(3), 11, text, config, trend)
    model.fit(TRAIN)
    model.eval()
    assert model.dims() == {"num_users": 4, "num_items": 5, "num_nodes": 11, "num_kg_edges": 3, "text_dim": 3}
    path = save_checkpoint(tmp_path / "kgcf.pt", model, {"user": list("abcd"), "product": list("vwxyz")})
    again = restore_model(load_checkpoint(path))
    assert isinstance(again, KGCF) and again.config == config
    assert torch.equal(again.kg_edges, kg) and torch.equal(again.trend, trend) and torch.equal(again.text, text)
    again.fit(TRAIN)  # rebuilds the adjacency and the fused EASE from the interactions
    users = torch.arange(4)
    assert torch.allclose(again.score_all(users), model.score_all(users), atol=1e-5)
    assert torch.allclose(again.score_basket(torch.tensor([0, 1])), model.score_basket(torch.tensor([0, 1])))

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

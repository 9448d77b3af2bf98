"""The one training loop (early stopping, budgets, callbacks), link prediction, and end-to-end runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from kgrec.gnn.checkpoint import load_checkpoint, restore_model, save_checkpoint
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel, TrainBatch
from kgrec.gnn.data import DataConfig, align_id_index, build_hetero_data, prepare_data, refit_data
from kgrec.gnn.models.hetero_sage import HeteroSAGE
from kgrec.gnn.models.kgcf import KGCF, KGCFConfig
from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
from kgrec.gnn.registry import model_for_data
from kgrec.gnn.train import (
    MIN_SELECTION_USERS,
    RunConfig,
    TrainConfig,
    Validation,
    require_learned,
    run_training,
    train_model,
    train_on_graph,
    train_prepared,
)
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import ModelError
from kgrec.kg.export import export_graph
from kgrec.pipeline import compare_checkpoints
from tests.shop_graphs import build_shop_graph, set_random_vectors

FAST = TrainConfig(epochs=6, batch_size=64, patience=100, lr=0.01, progress=False)
QUIET = TrainConfig(progress=False, device="cpu", weight_decay=0.0)


class Scalar(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))


def scripted(values: list[float], model: Scalar, seen: dict[int, float], minimize: bool = False) -> Validation:
    """A validation callback that reports ``values`` in turn and records the weight it saw."""
    it = iter(values)

    def evaluate() -> dict[str, float]:
        seen[len(seen) + 1] = float(model.w.detach())
        return {"m": next(it)}

    return Validation(evaluate, "m", minimize)


def test_early_stopping_keeps_the_best_epoch_weights() -> None:
    model, seen = Scalar(), dict[int, float]()
    config = replace(QUIET, epochs=50, patience=2, lr=0.1)
    result = run_training(
        model,
        lambda e: [1.0],
        lambda t: (model.w - 10 * t) ** 2,
        scripted([0.1, 0.5, 0.3, 0.2, 0.9], model, seen),
        config,
    )
    assert result.best_epoch == 2 and result.best_valid == 0.5
    assert len(result.history) == 4  # two evaluations without gain after epoch 2
    assert float(model.w) == pytest.approx(seen[2]) and seen[2] != seen[4]
    losses = [s.loss for s in result.history]
    assert losses == sorted(losses, reverse=True)


def test_minimised_metric_eval_every_and_no_validation() -> None:
    model, seen = Scalar(), dict[int, float]()
    config = replace(QUIET, epochs=9, patience=5, eval_every=3, lr=0.1)
    result = run_training(
        model, lambda e: [1.0], lambda t: (model.w - t) ** 2, scripted([0.9, 0.4, 0.6], model, seen, True), config
    )
    assert [s.epoch for s in result.history if s.valid] == [3, 6, 9]
    assert result.best_epoch == 6 and float(model.w) == pytest.approx(seen[2])
    plain = Scalar()
    result = run_training(plain, lambda e: [1.0, 1.0], lambda t: (plain.w - t) ** 2, None, replace(config, epochs=4))
    assert len(result.history) == 4 and result.best_epoch == 4 and result.metric == "loss"
    with pytest.raises(ModelError, match="loss became"):
        run_training(plain, lambda e: [1.0], lambda t: plain.w * float("nan"), None, QUIET)


class Spy(RecModel):
    """Records the batches the trainer builds; scores = item id."""

    name = "spy"

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(num_items))
        self.batches: list[TrainBatch] = []
        self.epochs = 0

    def begin_epoch(self) -> None:
        self.epochs += 1

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        self.batches.append(batch)
        return (self.w[batch.neg_items] - self.w[batch.pos_items].unsqueeze(1)).sigmoid().mean()

    def score(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return items.float()

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        return self.w.detach().expand(users.numel(), -1)


def test_link_prediction_batches_negatives_never_positive() -> None:
    train = Interactions(5, 12, torch.tensor([[u for u in range(5) for _ in range(3)], [*range(15)]]) % 12)
    empty = Interactions(5, 12, torch.zeros(2, 0, dtype=torch.long))
    model = Spy(12)
    config = replace(QUIET, epochs=3, batch_size=4, num_negatives=5, negatives="hard", hard_candidates=8)
    result = train_model(model, LinkSplit(train, empty, empty), config)
    assert model.epochs == 3 and len(result.history) == 3 and len(model.batches) == 3 * 4
    positives = set(map(tuple, train.edge_index.t().tolist()))
    for b in model.batches:
        assert b.neg_items.shape == (b.users.numel(), 5)
        assert not positives & {
            (u, i) for u, row in zip(b.users.tolist(), b.neg_items.tolist(), strict=True) for i in row
        }
    hard = torch.cat([b.neg_items.flatten() for b in model.batches]).float().mean()
    assert hard > 8  # scored by item id: hard negatives are the high ids
    with pytest.raises(ModelError, match="empty"):
        train_model(Spy(12), LinkSplit(empty, empty, empty), config)
    with pytest.raises(ModelError, match="BPR only"):
        train_model(Spy(12), LinkSplit(train, empty, empty), replace(config, loss="bce"))


def test_lightgcn_learns_communities_with_early_stopping() -> None:
    pairs = [(u, i) for u in range(8) for i in range(6) if (i < 3) == (u < 4)]
    ei = torch.tensor(pairs).t()
    valid_mask = torch.arange(ei.size(1)) % 4 == 0
    split = LinkSplit(
        Interactions(8, 6, ei[:, ~valid_mask]), Interactions(8, 6, ei[:, valid_mask]), Interactions(8, 6, ei[:, :0])
    )
    model = LightGCNRec(8, 6, LightGCNConfig(embedding_dim=8, num_layers=2))
    model.fit(split.train)
    result = train_model(
        model, split, replace(QUIET, epochs=40, batch_size=8, lr=0.05, k=1, num_negatives=2, patience=40)
    )
    assert result.metric == "recall@1" and result.best_valid == max(s.valid["recall@1"] for s in result.history)
    s = model.score_all(torch.tensor([0, 5]))
    assert s[0, :3].min() > s[0, 3:].max() and s[1, 3:].min() > s[1, :3].max()


def test_train_on_graph_learns_and_writes_artefacts(graph: GraphConnection, tmp_path: Path) -> None:
    shop = build_shop_graph(graph, n_users=20, per_theme=6, orders_per_user=5)
    set_random_vectors(graph, shop.products, dim=8)
    result = train_on_graph(
        graph,
        RunConfig(
            data=DataConfig(valid_frac=0.15, test_frac=0.15, min_eval_users=3), train=FAST, out_dir=str(tmp_path)
        ),
    )
    losses = [s.loss for s in result.history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert all(s.valid and s.seconds > 0 for s in result.history)
    assert 1 <= result.best_epoch <= 6 and result.metric == "recall@20"
    assert result.test["recall@10"] <= result.test["recall@20"] and result.test["mrr"] > 0
    assert result.checkpoint is not None and result.plot is not None
    assert Path(result.checkpoint).is_file() and Path(result.plot).stat().st_size > 1000
    assert "| epoch |" in (tmp_path / "kgcf_history.md").read_text()  # the served model by default
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.name == "kgcf" and ckpt.id_maps["user"] == sorted(shop.users)
    assert ckpt.info["learned"] is True and result.learned
    assert set(ckpt.versions) == {"torch", "torch_geometric", "kgrec"}
    assert ckpt.info["best_epoch"] == result.best_epoch


def test_checkpoint_round_trip_gives_identical_scores(graph: GraphConnection, tmp_path: Path) -> None:
    shop = build_shop_graph(graph, n_users=12, per_theme=5, orders_per_user=4)
    set_random_vectors(graph, shop.products, dim=8)
    prepared = prepare_data(export_graph(graph), DataConfig(min_eval_users=3))
    model = model_for_data("hetero_sage", prepared)
    train_model(model, prepared.split, TrainConfig(epochs=2, batch_size=64, progress=False))
    path = save_checkpoint(tmp_path / "m.pt", model, prepared.id_maps, {"note": "test"})
    raw = torch.load(path, weights_only=True)  # loads without unpickling code
    assert raw["info"] == {"note": "test"}
    ckpt = load_checkpoint(path)
    loaded = restore_model(ckpt)
    assert isinstance(model, HeteroSAGE) and isinstance(loaded, HeteroSAGE)
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
    prepared = prepare_data(export_graph(graph), DataConfig(min_eval_users=3))
    split = prepared.split
    model = model_for_data("hetero_sage", prepared)
    cfg = TrainConfig(epochs=2, batch_size=64, loss="bce", negatives="hard", progress=False)
    result = train_model(model, split, cfg)
    assert isinstance(model, HeteroSAGE) and model.config.loss == "bce" and len(result.history) == 2
    lightgcn = model_for_data("lightgcn", prepared)
    result = train_model(lightgcn, split, TrainConfig(epochs=2, batch_size=64, progress=False))
    assert result.model_name == "lightgcn" and all(s.valid for s in result.history)
    save_checkpoint(tmp_path / "l.pt", lightgcn, prepared.id_maps)
    again = restore_model(load_checkpoint(tmp_path / "l.pt"))
    again.fit(split.train)
    lightgcn.eval()
    assert torch.allclose(again.score_all(torch.arange(3)), lightgcn.score_all(torch.arange(3)), atol=1e-6)


def test_a_metric_that_never_leaves_zero_is_not_learned_and_not_served() -> None:
    model, seen = Scalar(), dict[int, float]()
    config = replace(QUIET, epochs=5, patience=2, lr=0.1)
    flat = run_training(model, lambda e: [1.0], lambda t: (model.w - t) ** 2, scripted([0.0] * 5, model, seen), config)
    assert not flat.learned and len(flat.history) == 3
    with pytest.raises(ModelError, match=r"did not learn.*--epochs"):
        require_learned(flat)
    loss = lambda t: (model.w - t) ** 2  # noqa: E731
    rising = run_training(
        model, lambda e: [1.0], loss, scripted([0.0, 0.0, 0.01, 0.0, 0.0], model, {}), replace(config, patience=9)
    )
    assert rising.learned and require_learned(rising) is rising and rising.best_epoch == 3
    no_validation = run_training(model, lambda e: [1.0], loss, None, config)
    assert no_validation.learned  # nothing measured: nothing to refuse


def test_refit_trains_on_train_and_validation_and_small_splits_keep_fusion_defaults(
    graph: GraphConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = build_shop_graph(graph, n_users=20, per_theme=6, orders_per_user=5)
    set_random_vectors(graph, shop.products, dim=8)
    prepared = prepare_data(export_graph(graph), DataConfig(valid_frac=0.15, test_frac=0.15, min_eval_users=3))
    refit = refit_data(prepared)
    assert refit.split.train.num_edges > prepared.split.train.num_edges
    model, result = train_prepared(prepared, RunConfig(train=FAST, out_dir=str(tmp_path / "a"), refit=True))
    assert isinstance(model, KGCF) and model._train is not None
    assert model._train.num_edges == refit.split.train.num_edges  # the served graph holds the validation pairs
    assert result.refit_epochs == result.best_epoch and result.fusion is not None
    defaults = KGCFConfig()
    users = prepared.split.valid.users().numel()
    assert result.fusion["kept_defaults"] == f"{users} validation customers < {MIN_SELECTION_USERS}"
    assert (result.fusion["fuse_weight"], result.fusion["trend_weight"]) == (
        defaults.fuse_weight,
        defaults.trend_weight,
    )
    assert result.checkpoint is not None and load_checkpoint(result.checkpoint).info["refit"] is True
    with pytest.raises(ModelError, match=r"refitted on train \+ validation.*--on test"):
        compare_checkpoints(graph, [Path(result.checkpoint)], "valid", with_baselines=False)
    table, tested = compare_checkpoints(graph, [Path(result.checkpoint)], "test")
    assert tested.split.train.num_edges == refit.split.train.num_edges and "ease" in table.reports
    monkeypatch.setattr("kgrec.gnn.train.MIN_SELECTION_USERS", 1)
    _, chosen = train_prepared(prepared, RunConfig(train=FAST, out_dir=str(tmp_path / "b")))
    assert chosen.fusion is not None and "kept_defaults" not in chosen.fusion and "valid" in chosen.fusion
    assert chosen.refit_epochs == 0 and load_checkpoint(tmp_path / "b" / "kgcf.pt").info["refit"] is False

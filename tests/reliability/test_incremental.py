"""``train --incremental``: fine-tuning starts from the checkpoint's weights (matched by id) and new orders
change what the model learns."""

from __future__ import annotations

from pathlib import Path

import torch

from kgrec.gnn.checkpoint import load_checkpoint, warm_start
from kgrec.gnn.data import DataConfig, prepare_data
from kgrec.gnn.registry import model_for_data
from kgrec.gnn.train import RunConfig, TrainConfig, train_prepared
from kgrec.kg.connection import GraphConnection
from kgrec.kg.export import export_graph
from tests.shop_graphs import build_shop_graph, set_random_vectors, write_orders

FAST = TrainConfig(epochs=3, batch_size=64, patience=100, progress=False, device="cpu", threads=1)
DATA = DataConfig(split="random", valid_frac=0.15, test_frac=0.15, min_eval_users=3)


def test_incremental_training_starts_from_the_checkpoint_and_learns_new_orders(
    graph: GraphConnection, tmp_path: Path
) -> None:
    shop = build_shop_graph(graph, n_users=16, per_theme=5, orders_per_user=4)
    set_random_vectors(graph, shop.products, dim=8)
    first = prepare_data(export_graph(graph), DATA)
    _, full = train_prepared(first, RunConfig(model="lightgcn", train=FAST, out_dir=str(tmp_path / "full")))
    assert full.checkpoint is not None
    ckpt = load_checkpoint(full.checkpoint)
    assert not (tmp_path / "full" / "lightgcn.state.pt").exists()  # the training state goes when training ends

    # new orders: a new customer and more orders of an old one
    write_orders(
        graph,
        [("U900", "O900-0", 1_650_000_000, shop.products[:3]), ("U001", "O001-9", 1_650_000_100, shop.products[-3:])],
    )
    second = prepare_data(export_graph(graph), DATA)
    assert "U900" in second.id_maps["user"] and "U900" not in ckpt.id_maps["user"]

    model = model_for_data("lightgcn", second, ckpt.config)
    warm = warm_start(model, ckpt, second.id_maps)
    assert warm.rows_copied == len(ckpt.id_maps["user"]) + len(ckpt.id_maps["product"]) and warm.rows_new == 1
    old_rows, new_rows = _rows(ckpt.state_dict, ckpt.id_maps), _rows(model.state_dict(), second.id_maps)
    for key in old_rows:
        assert torch.equal(old_rows[key], new_rows[key]), key

    _, tuned = train_prepared(
        second, RunConfig(model="kgcf", train=FAST, out_dir=str(tmp_path / "inc")), warm_from=full.checkpoint
    )
    assert tuned.started_from == f"checkpoint {full.checkpoint}"
    assert tuned.checkpoint is not None
    after = load_checkpoint(tuned.checkpoint)
    assert after.name == "lightgcn"  # the checkpoint's model, whatever the run config named
    assert after.info["full_seconds"] == ckpt.info["seconds"] and after.info["seconds"] > 0
    tuned_rows = _rows(after.state_dict, after.id_maps)
    assert not torch.equal(tuned_rows["user U001"], old_rows["user U001"])  # new orders moved the customer


def _rows(state: dict[str, torch.Tensor], id_maps: dict[str, list[str]]) -> dict[str, torch.Tensor]:
    """Each user's and product's embedding row of a LightGCN state dict, keyed by type and id."""
    (table,) = [t for t in state.values() if t.dim() == 2]
    ids = [f"user {u}" for u in id_maps["user"]] + [f"product {p}" for p in id_maps["product"]]
    assert table.shape[0] == len(ids)
    return dict(zip(ids, table, strict=True))

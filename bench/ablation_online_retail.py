"""Online Retail: what the knowledge graph and the text vectors add to KGCF, alone and fused.

    .venv/bin/python -m bench.ablation_online_retail          # the reported run

Four KGCF variants on the same temporal split as ``bench.rank_online_retail`` (cached snapshot):
``id-only`` (no catalogue relations, no text, no id dropout: a LightGCN-like softmax model),
``+kg`` (catalogue nodes: categories, attributes, brands), ``+text`` (MiniLM product vectors),
``+both`` (the served model). Each is trained on train with early stopping on its GNN part,
scored on valid as the GNN alone (``<variant>/gnn``) and with the served fusion
(``<variant>/fused``: + 0.5 EASE + 2.2 trend), then refitted on train+valid for its best epoch
count and tested once (protocol in ``bench.refit_eval``). Writes
``bench/results/ablation-online-retail.json``.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import torch

from bench.common import RESULTS, Result, run, write_results
from bench.rank_online_retail import CACHE
from bench.refit_eval import Tested, train_kgcf

VARIANTS: dict[str, dict[str, object]] = {
    "id-only": {"relations": (), "use_text": False, "id_dropout": 0.0},
    "+kg": {"use_text": False},
    "+text": {"relations": ()},
    "+both": {},
}


def main(
    variants: str = ",".join(VARIANTS),
    epochs: int = 30,
    patience: int = 4,
    batch_size: int = 16384,
    lr: float = 0.01,
    seed: int = 42,
    threads: int = 2,
    out: Path = RESULTS,
) -> None:
    """Train, score, refit and test each variant; writes <out>/ablation-online-retail.json after each."""
    config_record = dict(locals())
    from kgrec.gnn.data import DataConfig, prepare_data, refit_data
    from kgrec.gnn.models.kgcf import KGCFConfig
    from kgrec.gnn.train import TrainConfig

    torch.set_num_threads(threads)
    prepared = prepare_data(pickle.loads(CACHE.read_bytes()), DataConfig(split="temporal", seed=seed))
    refit = refit_data(prepared)
    schedule = TrainConfig(
        epochs=epochs, patience=patience, batch_size=batch_size, lr=lr, weight_decay=0.0,
        num_negatives=1, seed=seed, device="cpu", progress=False, threads=threads,
    )  # fmt: skip
    served = KGCFConfig()
    config_record["served_fusion"] = {"fuse_weight": served.fuse_weight, "ease_l2": served.ease_l2}
    config_record["served_fusion"] |= {"trend_weight": served.trend_weight}
    done = Tested([Result("split", "valid", "users", float(prepared.split.valid.users().numel()))])
    for name in variants.split(","):
        config = replace(served, **VARIANTS[name])  # type: ignore[arg-type]
        views = {f"{name}/gnn": {"fuse_weight": 0.0, "trend_weight": 0.0}, f"{name}/fused": {}}
        train_kgcf(prepared, refit, config, schedule, views, name, done)
        write_results(
            "ablation-online-retail", "UCI Online Retail (full, temporal split, refit on train+valid)", done.results,
            seeds=[seed], threads=threads, config=config_record, out_dir=out,
        )  # fmt: skip


if __name__ == "__main__":
    run(main)

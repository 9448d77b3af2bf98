"""One small training loop for every trainable :class:`~kgrec.gnn.contract.RecModel`.

Epoch = the training pairs in a seeded random order, cut into batches; each batch gets uniform
or hard negatives (the highest-scoring of ``hard_candidates`` uniform non-positives), the model's
``loss(batch)`` (BPR by default; models with a ``config.loss`` switch take ``bce`` too), Adam with
``weight_decay`` as L2. After each epoch the validation split is ranked in full with
``gnn.evaluate`` (training positives masked); the best epoch's weights are kept and training stops
after ``patience`` epochs without improvement. CUDA is used when present, with bf16 autocast.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from torch import Tensor

from kgrec.gnn.contract import Interactions, LinkSplit, RecModel, TrainBatch
from kgrec.gnn.evaluate import evaluate
from kgrec.kg.errors import ModelError

if TYPE_CHECKING:
    from kgrec.gnn.data import DataConfig, PreparedData
    from kgrec.gnn.models.hetero_sage import HeteroSAGEConfig
    from kgrec.kg.connection import GraphConnection


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation knobs; defaults train the demo sample in a few CPU minutes."""

    epochs: int = 40
    batch_size: int = 8192  # full-graph models pay one graph pass per step: few, large batches
    lr: float = 0.01
    weight_decay: float = 1e-6
    loss: Literal["bpr", "bce"] = "bpr"
    negatives: Literal["uniform", "hard"] = "uniform"
    num_negatives: int = 4
    hard_candidates: int = 16
    patience: int = 10
    k: int = 20
    metric: str = "recall"  # early-stopping metric, evaluated at k
    max_steps_per_epoch: int | None = None
    seed: int = 42
    device: str = "auto"
    amp: bool = True  # bf16 autocast, CUDA only
    progress: bool = True

    @property
    def metric_name(self) -> str:
        return f"{self.metric}@{self.k}"


@dataclass(frozen=True)
class EpochStats:
    """One epoch: mean loss, validation metrics (empty if not evaluated), wall seconds."""

    epoch: int
    loss: float
    valid: dict[str, float]
    seconds: float


@dataclass
class TrainResult:
    """History of a run and where its artefacts went."""

    model_name: str
    metric: str
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    best_valid: float = float("nan")
    test: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    seconds: float = 0.0
    checkpoint: str | None = None
    plot: str | None = None
    stats: dict[str, int] = field(default_factory=dict)


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(setting: str) -> torch.device:
    if setting == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but torch sees no GPU: use --device cpu or auto")
    return torch.device(setting)


class NegativeSampler:
    """Uniform or hard negatives that are never the user's training positives."""

    def __init__(self, train: Interactions, generator: torch.Generator) -> None:
        self.num_items = train.num_items
        ei = train.edge_index.long().cpu()
        self.positives = torch.unique(ei[0] * train.num_items + ei[1])
        self.generator = generator

    def _is_positive(self, users: Tensor, items: Tensor) -> Tensor:
        return torch.isin(users * self.num_items + items, self.positives)

    def uniform(self, users: Tensor, n: int) -> Tensor:
        """``[B, n]`` items, resampled (a few rounds) where they hit a positive."""
        u = users.unsqueeze(1).expand(-1, n)
        items = torch.randint(self.num_items, u.shape, generator=self.generator)
        for _ in range(10):
            bad = self._is_positive(u, items)
            if not bad.any():
                break
            items[bad] = torch.randint(self.num_items, (int(bad.sum()),), generator=self.generator)
        return items

    @torch.no_grad()
    def hard(self, model: RecModel, users: Tensor, n: int, candidates: int, device: torch.device) -> Tensor:
        """For each user and slot the highest-scoring of ``candidates`` uniform non-positives."""
        cand = self.uniform(users, n * candidates)  # [B, n*C]
        was_training = model.training
        model.eval()
        try:
            flat_u = users.unsqueeze(1).expand_as(cand).reshape(-1).to(device)
            scores = model.score(flat_u, cand.reshape(-1).to(device)).float().cpu().view(-1, n, candidates)
        finally:
            model.train(was_training)
        best = scores.argmax(-1, keepdim=True)
        return cand.view(-1, n, candidates).gather(2, best).squeeze(2)


def _valid_metrics(model: RecModel, split: LinkSplit, k: int, device: torch.device) -> dict[str, float]:
    if split.valid.num_edges == 0:
        return {}
    return evaluate(model, split, "valid", ks=(k,), device=device).metrics


def train_model(model: RecModel, split: LinkSplit, config: TrainConfig | None = None) -> TrainResult:
    """Train ``model`` on ``split.train`` with early stopping on ``split.valid``; keeps the best weights."""
    config = config or TrainConfig()
    if not model.trainable:
        raise ModelError(f"{model.name} is not trainable: call fit(train) instead")
    if split.train.num_edges == 0:
        raise ModelError("the training split is empty: check the export and the split fractions")
    k = min(config.k, split.train.num_items)
    config = replace(config, k=k)
    device = resolve_device(config.device)
    set_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model.to(device)
    if hasattr(model, "config") and hasattr(model.config, "loss") and model.config.loss != config.loss:
        model.config = replace(model.config, loss=config.loss)
    elif config.loss != "bpr" and not hasattr(model, "config"):
        raise ModelError(f"{model.name} trains with BPR only; use --loss bpr")
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sampler = NegativeSampler(split.train, generator)
    edges = split.train.edge_index.long().cpu()
    use_amp = config.amp and device.type == "cuda"
    result = TrainResult(model.name, config.metric_name, device=str(device))
    best_state: dict[str, Tensor] | None = None
    bad_epochs, start = 0, time.perf_counter()
    bar = _progress(config)
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(edges.size(1), generator=generator)
        batches = perm.split(config.batch_size)[: config.max_steps_per_epoch]
        total = 0.0
        for idx in batches:
            users, pos = edges[0, idx], edges[1, idx]
            if config.negatives == "hard":
                neg = sampler.hard(model, users, config.num_negatives, config.hard_candidates, device)
            else:
                neg = sampler.uniform(users, config.num_negatives)
            batch = TrainBatch(users.to(device), pos.to(device), neg.squeeze(1).to(device))
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = model.loss(batch)
            if not torch.isfinite(loss):
                raise ModelError(f"loss became {float(loss)} at epoch {epoch}: lower --lr")
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        valid = _valid_metrics(model, split, k, device)
        stats = EpochStats(epoch, total / max(len(batches), 1), valid, time.perf_counter() - t0)
        result.history.append(stats)
        score = valid.get(config.metric_name, -stats.loss if not valid else float("nan"))
        if best_state is None or score > result.best_valid:
            result.best_epoch, result.best_valid = epoch, float(score)
            best_state = copy.deepcopy({n: t.detach().cpu() for n, t in model.state_dict().items()})
            bad_epochs = 0
        else:
            bad_epochs += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{stats.loss:.4f}", **{config.metric_name: f"{score:.4f}"})
        if valid and bad_epochs >= config.patience:
            break
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def evaluate_test(
    model: RecModel, split: LinkSplit, k: int = 20, device: str | torch.device | None = None
) -> dict[str, float]:
    """Full-ranking test metrics (train and valid positives masked); empty when there is no test set."""
    if split.test.num_edges == 0:
        return {}
    k = min(k, split.train.num_items)
    ks = tuple(sorted({min(10, k), k}))
    return evaluate(model, split, "test", ks=ks, device=device).metrics


def _progress(config: TrainConfig):  # type: ignore[no-untyped-def]
    if not config.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=config.epochs, desc="train", unit="epoch", leave=False)


@dataclass(frozen=True)
class RunConfig:
    """A whole run from the graph: data, model, optimisation, where artefacts go."""

    model: Literal["gnn", "lightgcn"] = "gnn"
    data: DataConfig | None = None
    gnn: HeteroSAGEConfig | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    out_dir: str = ".kgrec/runs/latest"


def build_model_for(prepared: PreparedData, config: RunConfig) -> RecModel:
    """A fresh model of ``config.model`` over the prepared graph."""
    from kgrec.gnn.models.hetero_sage import HeteroSAGE, HeteroSAGEConfig

    split = prepared.split
    if config.model == "gnn":
        data = prepared.data
        model = HeteroSAGE(
            data.metadata(),
            {t: data[t].num_nodes for t in data.node_types},
            prepared.snapshot.embedding_dim,
            config.gnn or HeteroSAGEConfig(),
        )
        return model.attach(data)
    if config.model == "lightgcn":
        from kgrec.gnn.models.lightgcn import LightGCNRec

        lgcn = LightGCNRec(split.train.num_users, split.train.num_items)
        lgcn.fit(split.train)
        return lgcn
    raise ModelError(f"unknown model {config.model!r}: use gnn or lightgcn")


def train_prepared(prepared: PreparedData, config: RunConfig) -> tuple[RecModel, TrainResult]:
    """Train on prepared data, evaluate on test, write checkpoint, curves and table to ``out_dir``."""
    from kgrec.gnn.checkpoint import save_checkpoint
    from kgrec.gnn.plots import history_table, plot_history

    set_seed(config.train.seed)
    model = build_model_for(prepared, config)
    result = train_model(model, prepared.split, config.train)
    result.test = evaluate_test(model, prepared.split, config.train.k, resolve_device(config.train.device))
    result.stats = dict(prepared.stats)
    out = Path(config.out_dir)
    info = {
        "best_epoch": result.best_epoch,
        "best_valid": result.best_valid,
        "metric": result.metric,
        "test": result.test,
        "split": prepared.split_kind,
        "stats": result.stats,
        "train_config": _plain(asdict(config.train)),
        "data_config": _plain(asdict(prepared.config)),
    }
    result.checkpoint = str(save_checkpoint(out / f"{model.name}.pt", model, prepared.id_maps, info))
    result.plot = str(plot_history(result, out / f"{model.name}_curves.png"))
    (out / f"{model.name}_history.md").write_text(history_table(result) + "\n")
    return model, result


def train_on_graph(conn: GraphConnection, config: RunConfig | None = None) -> TrainResult:
    """Export the graph, split it, train, test and checkpoint: the main pipeline's one call."""
    from kgrec.gnn.data import DataConfig, prepare_data
    from kgrec.kg.export import export_graph

    config = config or RunConfig()
    snapshot = export_graph(conn)
    prepared = prepare_data(snapshot, config.data or DataConfig(seed=config.train.seed))
    return train_prepared(prepared, config)[1]


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)

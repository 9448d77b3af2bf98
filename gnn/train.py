"""The ONE training loop of the project: product models and benchmark models alike.

:func:`run_training` is task-agnostic: a model, a ``batches(epoch)`` iterable, a ``loss(batch)``
hook and an optional :class:`Validation` callback. Each optimiser step is one ``loss`` call (one
propagation for full-graph models), Adam with ``weight_decay`` as L2, bf16 autocast on CUDA.
Budgets are in epochs (``epochs`` = the maximum; ``time_budget_s`` is an optional extra cap).
Every ``eval_every`` epochs the callback scores the weights; the best state is kept (in memory,
on CPU) and training stops after ``patience`` evaluations without improvement. Without a
callback every epoch runs and the last weights stay.

:func:`train_model` is the link-prediction task of :class:`~kgrec.gnn.contract.RecModel`: the
training pairs in a seeded random order (or grouped by user, ``batch_order="users"``) cut into batches, ``num_negatives`` negatives per
positive (``[B, n]``) from :class:`~kgrec.gnn.graph_ops.NegativeSampler` — uniform, or hard (the
best of ``hard_candidates`` uniform candidates, scored once per epoch with the epoch's starting
weights) — ``model.loss(batch)``, and early stopping on full-ranking ``metric@k`` of the
validation split (training positives masked, ``gnn.evaluate``).
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import torch
from torch import Tensor

from kgrec.gnn.contract import LinkSplit, RecModel, TrainBatch
from kgrec.gnn.evaluate import evaluate
from kgrec.gnn.graph_ops import NegativeSampler, resolve_device
from kgrec.kg.errors import ModelError

if TYPE_CHECKING:
    from kgrec.gnn.data import DataConfig, PreparedData
    from kgrec.kg.connection import GraphConnection

B = TypeVar("B")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation knobs; defaults train the demo sample in a few CPU minutes."""

    epochs: int = 40  # the budget: at most this many epochs
    batch_size: int = 8192  # full-graph models pay one graph pass per step: few, large batches
    lr: float = 0.01
    weight_decay: float = 1e-6
    loss: Literal["bpr", "bce"] = "bpr"
    negatives: Literal["uniform", "hard"] = "uniform"
    num_negatives: int = 4
    hard_candidates: int = 16
    patience: int = 10  # evaluations without improvement before stopping
    k: int = 20
    metric: str = "recall"  # early-stopping metric, evaluated at k
    max_steps_per_epoch: int | None = None
    # "users": the pairs of each user together (users in random order), so a full-softmax model scores each
    # user's row once per epoch instead of once per batch it falls in; "pairs": pairs in random order
    batch_order: Literal["pairs", "users"] = "pairs"
    seed: int = 42
    device: str = "auto"
    amp: bool = True  # bf16 autocast, CUDA only
    progress: bool = True
    eval_every: int = 1
    time_budget_s: float | None = None
    threads: int | None = None  # torch.set_num_threads; None leaves torch's choice
    verbose: bool = False  # print one line per evaluation
    # a training-state file (weights, optimiser, best weights, history, every random state) written after each
    # epoch, atomically; with resume=True an existing one is continued from, reaching the uninterrupted result
    state_path: str | None = None
    resume: bool = False

    @property
    def metric_name(self) -> str:
        return f"{self.metric}@{self.k}"


@dataclass(frozen=True)
class Validation:
    """The evaluation callback: ``evaluate()`` → metrics; ``metric`` is the one early stopping follows."""

    evaluate: Callable[[], dict[str, float]]
    metric: str
    minimize: bool = False


@dataclass(frozen=True)
class EpochStats:
    """One epoch: mean loss, validation metrics (empty if not evaluated), wall seconds (training + validation)."""

    epoch: int
    loss: float
    valid: dict[str, float]
    seconds: float
    train_seconds: float = 0.0
    #: CPU seconds of this process spent training (all threads): on a shared, overloaded machine the wall
    #: clock measures the neighbours, this measures the work (≈ wall × threads on an idle machine)
    train_cpu_seconds: float = 0.0


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
    #: False when validation ran and its metric never left zero: the model learned nothing to serve.
    learned: bool = True
    #: The epoch a resumed run continued after (0: it started from scratch).
    resumed_from: int = 0
    #: How the run started: "scratch", or "checkpoint <path>" for an incremental run (warm start).
    started_from: str = "scratch"
    #: Epochs (and seconds) of the refit on train + validation; 0 when the checkpoint is the selection run.
    refit_epochs: int = 0
    refit_seconds: float = 0.0
    #: KGCF's fusion weights and how they were set (chosen on validation, or defaults kept and why).
    fusion: dict[str, Any] | None = None

    @property
    def epoch_seconds(self) -> float:
        """Mean training seconds per epoch (validation excluded)."""
        return float(np.mean([s.train_seconds for s in self.history])) if self.history else 0.0

    @property
    def epoch_cpu_seconds(self) -> float:
        """Mean process CPU seconds per training epoch (validation excluded; all threads summed)."""
        return float(np.mean([s.train_cpu_seconds for s in self.history])) if self.history else 0.0


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


STATE_FORMAT = 1
#: TrainConfig fields that may differ between an interrupted run and its resumption.
_RESUMABLE_CHANGES = ("epochs", "progress", "verbose", "state_path", "resume", "time_budget_s", "threads", "device")


def _state_config(config: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k not in _RESUMABLE_CHANGES}


def _random_state(generators: Sequence[torch.Generator]) -> dict[str, Any]:
    """Every random state a run draws from, as tensors and plain data (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(gauss)],
        "torch": torch.get_rng_state(),
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_random_state(state: dict[str, Any], generators: Sequence[torch.Generator]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if len(state["generators"]) != len(generators):
        raise ModelError("the training state holds a different number of random generators: start a fresh run")
    for g, saved in zip(generators, state["generators"], strict=True):
        g.set_state(saved)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_training_state(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename): a kill mid-write leaves the previous state intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_training_state(path: Path, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """A training state saved by :func:`run_training` (``weights_only=True``: no pickled code runs).

    ModelError, with what to do, when it is truncated or corrupted, foreign, or from another run
    (other config, data or model: ``identity``).
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, random bytes, a pickle with code in it: all refused alike
        raise ModelError(
            f"{path} is not a readable training state ({type(exc).__name__}); delete it and start a fresh run"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
        raise ModelError(f"{path} is not a kgrec training state (format {STATE_FORMAT}); delete it and retrain")
    for key, value in (identity or {}).items():
        if payload.get(key) != value:
            raise ModelError(
                f"{path} was saved by another run (its {key} differs): resume with the same data and options, "
                "or delete it and start a fresh run"
            )
    return payload


def run_training(
    model: torch.nn.Module,
    batches: Callable[[int], Iterable[B]],
    loss: Callable[[B], Tensor],
    validation: Validation | None,
    config: TrainConfig,
    name: str | None = None,
    *,
    generators: Sequence[torch.Generator] = (),
    fingerprint: str = "",
) -> TrainResult:
    """Train ``model`` on ``batches(epoch)`` with ``loss``; early stopping on ``validation``; best weights kept.

    With ``config.state_path`` the whole training state is saved after every epoch (``generators``:
    the random generators ``batches`` draws from, saved with it); with ``config.resume`` an existing
    state file is continued from its last epoch and the run ends exactly as an uninterrupted one with
    the same seed would. ``fingerprint`` identifies the data (a state of other data is refused).
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    set_seed(config.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    use_amp = config.amp and device.type == "cuda"
    metric = validation.metric if validation else "loss"
    result = TrainResult(name or str(getattr(model, "name", type(model).__name__)), metric, device=str(device))
    sign = -1.0 if validation and validation.minimize else 1.0
    best_state: dict[str, Tensor] | None = None
    bad, start, first = 0, time.perf_counter(), 1
    state_path = Path(config.state_path) if config.state_path else None
    identity = {"config": _state_config(config), "fingerprint": fingerprint, "model_name": result.model_name}
    last = config.epochs
    if state_path is not None and config.resume and state_path.exists():
        saved = load_training_state(state_path, identity)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        best_state, bad = saved["best_state"], int(saved["bad"])
        result.best_epoch, result.best_valid = int(saved["best_epoch"]), float(saved["best_valid"])
        known = {f.name for f in fields(EpochStats)}  # a state from a kgrec with other per-epoch fields still loads
        result.history = [EpochStats(**{k: v for k, v in h.items() if k in known}) for h in saved["history"]]
        _set_random_state(saved["random"], generators)
        start -= float(saved["seconds"])
        first = int(saved["epoch"]) + 1
        result.resumed_from = int(saved["epoch"])
        if saved["stopped"]:  # it had stopped early (patience or time): nothing left to run
            last = first - 1
    bar = _progress(config)
    for epoch in range(first, last + 1):
        t0, cpu0 = time.perf_counter(), time.process_time()
        model.train()
        total, steps = 0.0, 0
        for batch in batches(epoch):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                value = loss(batch)
            if not torch.isfinite(value):
                raise ModelError(f"loss became {float(value)} at epoch {epoch}: lower the learning rate")
            value.backward()
            optimizer.step()
            total, steps = total + float(value.detach()), steps + 1
        train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
        out_of_time = config.time_budget_s is not None and time.perf_counter() - start > config.time_budget_s
        last_epoch = epoch == config.epochs or out_of_time
        valid: dict[str, float] = {}
        if validation is not None and (epoch % config.eval_every == 0 or last_epoch):
            model.eval()
            valid = validation.evaluate()
            if validation.metric not in valid:
                raise ModelError(f"the validation callback returned {sorted(valid)}, not {validation.metric!r}")
            score = sign * valid[validation.metric]
            if best_state is None or score > sign * result.best_valid:
                result.best_epoch, result.best_valid, bad = epoch, valid[validation.metric], 0
                best_state = copy.deepcopy({k: t.detach().cpu() for k, t in model.state_dict().items()})
            else:
                bad += 1
        stats = EpochStats(epoch, total / max(steps, 1), valid, time.perf_counter() - t0, train_s, train_cpu_s)
        result.history.append(stats)
        if validation is None:
            result.best_epoch, result.best_valid = epoch, stats.loss
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{stats.loss:.4f}", **{k: f"{v:.4f}" for k, v in valid.items() if k == metric})
        if config.verbose and (valid or validation is None):
            shown = " ".join(f"{k} {v:.4f}" for k, v in valid.items())
            print(f"epoch {epoch} loss {stats.loss:.4f} {shown} ({train_s:.1f}s train)", flush=True)
        stop = bool((valid and bad >= config.patience) or out_of_time)
        if state_path is not None:
            _save_training_state(
                state_path,
                {
                    **identity,
                    "format": STATE_FORMAT,
                    "epoch": epoch,
                    "stopped": stop,
                    "model": {k: t.detach().cpu() for k, t in model.state_dict().items()},
                    "optimizer": optimizer.state_dict(),
                    "best_state": best_state,
                    "bad": bad,
                    "best_epoch": result.best_epoch,
                    "best_valid": result.best_valid,
                    "history": [asdict(h) for h in result.history],
                    "random": _random_state(generators),
                    "seconds": time.perf_counter() - start,
                },
            )
        if stop:
            break
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    scores = [s.valid[metric] for s in result.history if metric in s.valid]
    result.learned = not (validation is not None and not validation.minimize and scores and max(scores) <= 0.0)
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def require_learned(result: TrainResult) -> TrainResult:
    """``result`` if the model learned something; ModelError with advice when its validation metric stayed 0."""
    if not result.learned:
        raise ModelError(
            f"{result.model_name} did not learn: validation {result.metric} stayed 0 over "
            f"{len(result.history)} epoch(s), so it is not served. Train longer (--epochs), try another "
            "learning rate (--lr), check the split has validation customers (`kgrec stats`), or serve a baseline"
        )
    return result


def ranking_validation(
    model: RecModel, split: LinkSplit, config: TrainConfig, device: torch.device | str | None = None
) -> Validation:
    """Full-ranking ``config.metric@k`` on ``split.valid`` with the training positives masked."""
    return Validation(
        lambda: evaluate(model, split, "valid", ks=(config.k,), device=device).metrics, config.metric_name
    )


def train_model(
    model: RecModel, split: LinkSplit, config: TrainConfig | None = None, *, validation: Validation | None = None
) -> TrainResult:
    """Train ``model`` on ``split.train`` (link prediction) with early stopping on ``split.valid``.

    ``validation`` replaces the default callback (full ranking of ``split.valid``, ``metric@k``);
    with an empty validation split and no callback every epoch runs. The best weights stay loaded.
    """
    config = config or TrainConfig()
    if not model.trainable:
        raise ModelError(f"{model.name} is not trainable: call fit(train) instead")
    if split.train.num_edges == 0:
        raise ModelError("the training split is empty: check the export and the split fractions")
    config = replace(config, k=min(config.k, split.train.num_items))
    model_config = getattr(model, "config", None)
    if model_config is not None and hasattr(model_config, "loss"):
        if model_config.loss != config.loss:
            model.config = replace(model_config, loss=config.loss)
    elif config.loss != "bpr":
        raise ModelError(f"{model.name} trains with BPR only; use --loss bpr")
    device = resolve_device(config.device)
    if validation is None and split.valid.num_edges:
        validation = ranking_validation(model, split, config, device)
    generator = torch.Generator().manual_seed(config.seed)
    sampler = NegativeSampler(split.train, generator)
    edges = split.train.edge_index.long().cpu()

    def batches(epoch: int) -> Iterable[TrainBatch]:
        model.begin_epoch()
        order = torch.randperm(edges.size(1), generator=generator)
        if config.batch_order == "users":  # stable sort by a random user rank keeps the random order inside a user
            user_rank = torch.randperm(split.train.num_users, generator=generator)[edges[0, order]]
            order = order[torch.argsort(user_rank, stable=True)]
        chunks = order.split(config.batch_size)[: config.max_steps_per_epoch]
        picked = torch.cat(chunks)
        users = edges[0, picked]
        if config.negatives == "hard":
            model.eval()
            neg = sampler.hard(
                lambda u, i: model.score(u.to(device), i.to(device)),
                users,
                config.num_negatives,
                config.hard_candidates,
            )
            model.train()
        else:
            neg = sampler.uniform(users, config.num_negatives)
        if config.num_negatives == 1:
            neg = neg.squeeze(1)
        for idx in torch.arange(picked.numel()).split(config.batch_size):
            u, p = users[idx], edges[1, picked[idx]]
            yield TrainBatch(u.to(device), p.to(device), neg[idx].to(device))

    # a fused model (KGCF + EASE + trend) trains and early-stops on its GNN part alone; serving weights come back after
    gnn_only = getattr(model, "gnn_only", None)
    with gnn_only() if callable(gnn_only) else nullcontext():
        return run_training(
            model,
            batches,
            model.loss,
            validation,
            config,
            model.name,
            generators=(generator,),
            fingerprint=_split_hash(split),
        )


def _split_hash(split: LinkSplit) -> str:
    """A short hash of the training pairs and sizes: a training state of other data is refused."""
    import hashlib

    digest = hashlib.sha256()
    for part in (split.train, split.valid):
        digest.update(f"{part.num_users},{part.num_items},{part.num_edges};".encode())
        digest.update(part.edge_index.long().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


def evaluate_test(
    model: RecModel, split: LinkSplit, k: int = 20, device: str | torch.device | None = None
) -> dict[str, float]:
    """Full-ranking test metrics (train and valid positives masked); empty when there is no test set."""
    if split.test.num_edges == 0:
        return {}
    k = min(k, split.train.num_items)
    ks = tuple(sorted({min(10, k), k}))
    return evaluate(model, split, "test", ks=ks, device=device).metrics


def _progress(config: TrainConfig) -> Any:
    if not config.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=config.epochs, desc="train", unit="epoch", leave=False)


@dataclass(frozen=True)
class RunConfig:
    """A whole run from the graph: data, model (a registry name and its config), optimisation, artefacts."""

    model: str = "kgcf"  # gnn.registry.SERVED
    data: DataConfig | None = None
    model_config: Any = None  # the model's config dataclass (or a dict of its fields); None = defaults
    train: TrainConfig = field(default_factory=TrainConfig)
    out_dir: str = ".kgrec/runs/latest"
    # after selection on validation, train again on train + validation for the best epoch count (the
    # standard protocol): the checkpoint knows the most recent purchases, and test is scored with them
    refit: bool = False


#: Fewest validation customers that may choose KGCF's fusion weights. One standard error of Recall@20
#: is ~0.15 / sqrt(users): about 0.007 at 500, larger than most gaps between grid points below that,
#: where the pick would follow noise. Smaller shops keep the defaults chosen on Online Retail's
#: 1,017 validation customers (``KGCFConfig``).
MIN_SELECTION_USERS = 500


def train_prepared(
    prepared: PreparedData, config: RunConfig, *, warm_from: str | Path | None = None
) -> tuple[RecModel, TrainResult]:
    """Train on prepared data, evaluate on test, write checkpoint, curves and table to ``out_dir``.

    Early stopping (and KGCF's fusion weights, :func:`choose_fusion`) on validation; with
    ``config.refit`` the chosen configuration is then trained on train + validation
    (:func:`refit_model`), tested with that history and checkpointed (``info["refit"]``).

    ``warm_from``: a checkpoint to fine-tune (incremental training on new data): its model and config,
    its weights for every user and product it knew (:func:`~kgrec.gnn.checkpoint.warm_start`). The run's
    training state is written to ``out_dir`` each epoch (``TrainConfig.state_path`` defaults there) and
    removed when training ends, so ``config.train.resume`` continues an interrupted run.
    """
    from kgrec.gnn.checkpoint import load_checkpoint, save_checkpoint, warm_start
    from kgrec.gnn.plots import history_table, plot_history
    from kgrec.gnn.registry import model_for_data

    set_seed(config.train.seed)
    base = load_checkpoint(warm_from) if warm_from is not None else None
    name = base.name if base is not None else config.model
    model = model_for_data(name, prepared, base.config if base is not None else config.model_config)
    if base is not None:
        warm = warm_start(model, base, prepared.id_maps)
        if warm.rows_copied + warm.tensors_copied == 0:
            raise ModelError(
                f"{warm_from} shares no weights with a {name} model of this graph: run a full `kgrec train`"
            )
    out = Path(config.out_dir)
    state = Path(config.train.state_path) if config.train.state_path else out / f"{model.name}.state.pt"
    train_config = replace(config.train, state_path=str(state))
    result = train_model(model, prepared.split, train_config)
    state.unlink(missing_ok=True)
    if base is not None:
        result.started_from = f"checkpoint {warm_from}"
    fusion = result.fusion = choose_fusion(model, prepared, config.train, result)
    result.stats = dict(prepared.stats)
    if config.refit and prepared.split.valid.num_edges and result.learned:
        from kgrec.gnn.data import refit_data

        prepared = refit_data(prepared)
        model = refit_model(model, prepared, config.train, result)
    result.test = evaluate_test(model, prepared.split, config.train.k, resolve_device(config.train.device))
    info = {
        "best_epoch": result.best_epoch,
        "best_valid": result.best_valid,
        "metric": result.metric,
        "test": result.test,
        "split": prepared.split_kind,
        "learned": result.learned,
        "fusion": fusion,
        "refit": result.refit_epochs > 0,
        "refit_seconds": result.refit_seconds,
        "stats": result.stats,
        "seconds": result.seconds,
        "started_from": result.started_from,
        "full_seconds": (base.info.get("full_seconds") or base.info.get("seconds")) if base else result.seconds,
        "train_config": _plain(asdict(config.train)),
        "data_config": _plain(asdict(prepared.config)),
    }
    result.checkpoint = str(save_checkpoint(out / f"{model.name}.pt", model, prepared.id_maps, info))
    result.plot = str(plot_history(result, out / f"{model.name}_curves.png"))
    (out / f"{model.name}_history.md").write_text(history_table(result) + "\n")
    return model, result


def choose_fusion(
    model: RecModel, prepared: PreparedData, config: TrainConfig, result: TrainResult
) -> dict[str, Any] | None:
    """KGCF's fusion weights chosen on validation, or the defaults kept (and why) when it is too small to rank them."""
    tune_fusion = getattr(model, "tune_fusion", None)
    if not callable(tune_fusion) or not prepared.split.valid.num_edges or not result.learned:
        return None
    users = int(prepared.split.valid.users().numel())
    if users < MIN_SELECTION_USERS:
        kept = {k: getattr(model.config, k) for k in ("fuse_weight", "trend_weight")}
        return kept | {"kept_defaults": f"{users} validation customers < {MIN_SELECTION_USERS}"}
    validation = ranking_validation(model, prepared.split, config, resolve_device(config.device))
    return dict(tune_fusion(lambda: validation.evaluate()[validation.metric]))


def refit_model(model: RecModel, refit: PreparedData, config: TrainConfig, result: TrainResult) -> RecModel:
    """``model``'s configuration trained again from the same seed on ``refit`` (:func:`gnn.data.refit_data`:
    train + validation) for ``result.best_epoch`` epochs."""
    from kgrec.gnn.registry import model_for_data

    set_seed(config.seed)
    final = model_for_data(model.name, refit, getattr(model, "config", None))
    epochs = max(result.best_epoch, 1)
    again = train_model(final, refit.split, replace(config, epochs=epochs, patience=10**6, state_path=None))
    result.refit_epochs, result.refit_seconds = len(again.history), again.seconds
    return final


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

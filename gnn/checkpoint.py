"""Checkpoints: weights + registry name, config and dims + id maps + library versions.

Everything but the state dict is plain JSON-able data (str, int, float, list, dict), so
``torch.load(path, weights_only=True)`` can read it without unpickling code. A checkpoint rebuilds
its model through ``gnn.registry`` (:func:`restore_model`); the graph (``attach`` / ``fit``)
comes from a fresh export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from kgrec.gnn.contract import RecModel
from kgrec.gnn.registry import build_model, describe
from kgrec.kg.errors import ModelError

if TYPE_CHECKING:
    from kgrec.gnn.data import PreparedData

FORMAT_VERSION = 2  # 2: registry name + config + dims (1 had per-model specs)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a checkpoint."""
    import torch_geometric

    try:
        kgrec = version("kgrec")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        kgrec = "unknown"
    return {"torch": str(torch.__version__), "torch_geometric": str(torch_geometric.__version__), "kgrec": kgrec}


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint."""

    name: str  # the registry name, e.g. "hetero_sage" or "lightgcn"
    config: dict[str, Any]
    dims: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    id_maps: dict[str, list[str]]
    versions: dict[str, str]
    info: dict[str, Any] = field(default_factory=dict)  # metrics, configs, split stats


def save_checkpoint(
    path: str | Path, model: RecModel, id_maps: dict[str, list[str]], info: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` with its id maps and ``info`` (plain data) to ``path``."""
    name, config, dims = describe(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_VERSION,
        "model": name,
        "config": config,
        "dims": dims,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "id_maps": {t: list(v) for t, v in id_maps.items()},
        "versions": library_versions(),
        "info": info or {},
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint safely (``weights_only=True``); ModelError if missing or foreign."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no checkpoint at {path}: run `kgrec train` first or pass --checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors have many types
        raise ModelError(f"{path} is not a readable kgrec checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelError(f"{path} has checkpoint format {found!r}, this kgrec reads {FORMAT_VERSION}: retrain")
    return Checkpoint(
        payload["model"],
        payload["config"],
        payload["dims"],
        payload["state_dict"],
        payload["id_maps"],
        payload["versions"],
        payload.get("info", {}),
    )


def restore_model(ckpt: Checkpoint) -> RecModel:
    """The model of ``ckpt`` with its weights loaded (graph not attached yet)."""
    model = build_model(ckpt.name, ckpt.config, **ckpt.dims)
    model.load_state_dict(ckpt.state_dict)
    model.eval()
    return model


def restore_for_split(ckpt: Checkpoint, prepared: PreparedData) -> RecModel:
    """The checkpoint's model over the TRAINING graph of ``prepared`` (for evaluation on its split)."""
    from kgrec.gnn.data import align_id_index, build_hetero_data
    from kgrec.gnn.models.hetero_sage import HeteroSAGE

    model = restore_model(ckpt)
    snap = prepared.snapshot
    if any(ckpt.id_maps.get(t, []) != snap.ids.get(t, []) for t in ("user", "product")):
        raise ModelError(
            "the graph's users/products changed since this checkpoint was trained: "
            "evaluate right after training, or retrain with `kgrec train`"
        )
    if isinstance(model, HeteroSAGE):
        data = build_hetero_data(
            snap,
            prepared.split.train,
            prepared.copurchase,
            metadata=(model.node_types, model.edge_types),
            id_index=align_id_index(snap, ckpt.id_maps),
        )
        model.attach(data)
    else:
        model.fit(prepared.split.train)
    model.eval()
    return model


@dataclass(frozen=True)
class WarmStart:
    """What :func:`warm_start` carried over: rows of node tables matched by id, whole tensors, fresh ones."""

    rows_copied: int
    rows_new: int
    tensors_copied: int
    tensors_fresh: list[str]


def _table_orders(param: str, new_maps: dict[str, list[str]]) -> list[list[str]]:
    """Node-type orders a parameter's rows may follow: its own type first if its name says so, then the
    homogeneous numbering (users, products, other types sorted) and users + products."""
    others = sorted(t for t in new_maps if t not in ("user", "product"))
    named = [[t] for t in new_maps if f".{t}." in f".{param}."]
    return [*named, ["user", "product", *others], ["user", "product"], *([t] for t in new_maps)]


def _row_source(order: list[str], old_maps: dict[str, list[str]], new_maps: dict[str, list[str]]) -> torch.Tensor:
    """For each row of the new table (types in ``order``), the old row of the same id, or -1."""
    source: list[int] = []
    offset = 0
    for t in order:
        old_index = {v: i + offset for i, v in enumerate(old_maps.get(t, []))}
        source.extend(old_index.get(v, -1) for v in new_maps.get(t, []))
        offset += len(old_maps.get(t, []))
    return torch.tensor(source, dtype=torch.long)


def warm_start(model: torch.nn.Module, ckpt: Checkpoint, id_maps: dict[str, list[str]]) -> WarmStart:
    """Load ``ckpt``'s learned parameters into ``model`` (built for data with ``id_maps``) for fine-tuning.

    A node table (rows = users, products, ... in id-map order) is copied row by row by id, so users and
    products the checkpoint knew start from its weights and new ones keep their fresh initialisation;
    other parameters of the same shape are copied whole. Buffers (graph, text, trend) stay the new data's.
    """
    copied = new_rows = tensors = 0
    fresh: list[str] = []
    with torch.no_grad():
        for name, param in model.named_parameters():
            old = ckpt.state_dict.get(name)
            if old is None or old.shape[1:] != param.shape[1:]:
                fresh.append(name)
                continue
            for order in _table_orders(name, id_maps):
                old_size = sum(len(ckpt.id_maps.get(t, [])) for t in order)
                new_size = sum(len(id_maps.get(t, [])) for t in order)
                if old.dim() >= 1 and (old.shape[0], param.shape[0]) == (old_size, new_size) and new_size:
                    source = _row_source(order, ckpt.id_maps, id_maps)
                    known = source >= 0
                    param[known] = old[source[known]].to(param.device, param.dtype)
                    copied, new_rows = copied + int(known.sum()), new_rows + int((~known).sum())
                    break
            else:
                if old.shape == param.shape:
                    param.copy_(old.to(param.device, param.dtype))
                    tensors += 1
                else:
                    fresh.append(name)
    return WarmStart(copied, new_rows, tensors, fresh)

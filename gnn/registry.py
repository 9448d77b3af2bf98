"""The one model registry: name → class, its config dataclass and how to build it over prepared data.

One name per model, used in results files, checkpoints and the CLI (``kgrec train --model``):

===============  ==========================================  ==================================
name             class                                       config
===============  ==========================================  ==================================
``kgcf``         ``gnn.models.kgcf.KGCF`` (the served model)  ``KGCFConfig``
``hetero_sage``  ``gnn.models.hetero_sage.HeteroSAGE``       ``HeteroSAGEConfig``
``lightgcn``     ``gnn.models.lightgcn.LightGCNRec``         ``LightGCNConfig``
``crosscbr``     ``gnn.models.bundle_gnn.CrossViewBundleModel``  ``BundleModelConfig``
``bundle_ease``  ``gnn.models.bundle_fusion.BundleEASE``     ``BundleEASEConfig``
``popularity``   ``gnn.models.baselines.Popularity``         —
``itemknn``      ``gnn.models.baselines.ItemKNN``            ``ItemKNNConfig``
``ease``         ``gnn.models.baselines.EASE``               ``EASEConfig``
``rp3beta``      ``gnn.models.rp3beta.RP3beta``              ``RP3betaConfig``
``text``         ``gnn.models.baselines.TextSimilarity``     —
===============  ==========================================  ==================================

A checkpointable model is built as ``cls(**dims, config=config)`` where ``model.dims()`` are plain
sizes; a checkpoint stores ``name``, ``config`` (fields) and ``dims`` (:func:`describe`), and
:func:`build_model` rebuilds it. :func:`model_for_data` builds a fresh model over a
:class:`~kgrec.gnn.data.PreparedData` (graph attached / interactions fitted), ready to train.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from kgrec.gnn.contract import RecModel
from kgrec.kg.errors import ModelError

if TYPE_CHECKING:
    from kgrec.gnn.data import PreparedData


#: The model the product serves (``kgrec train``, the demo, the recommender): KGCF, see docs/model.md.
SERVED = "kgcf"


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its class, its config dataclass, and its builder over prepared data."""

    cls: type[RecModel]
    config: type | None
    for_data: Callable[[PreparedData, Any], RecModel] | None = None


def _hetero_sage(prepared: PreparedData, config: Any) -> RecModel:
    from kgrec.gnn.models.hetero_sage import HeteroSAGE

    data = prepared.data
    num_nodes = {t: data[t].num_nodes for t in data.node_types}
    return HeteroSAGE(data.metadata(), num_nodes, prepared.snapshot.embedding_dim, config).attach(data)


def kgcf_trend(prepared: PreparedData, days: float = 14.0) -> Any:
    """KGCF's trend vector: log(1 + distinct buyers) per product in the last ``days`` of the training orders."""
    from kgrec.gnn.models.kgcf import recent_buyers

    orders, lines = prepared.snapshot.orders, prepared.train_lines
    if orders is None or lines is None or not len(orders):
        return None
    return recent_buyers(orders, lines, prepared.snapshot.num("product"), days)


def _kgcf(prepared: PreparedData, config: Any) -> RecModel:
    """KGCF over the prepared graph (knowledge-graph relations, text, trend), fitted on the training split."""
    from kgrec.gnn.models.kgcf import KGCF

    return KGCF.from_data(prepared.data, config, kgcf_trend(prepared))


def _fit_on_train(build: Callable[[PreparedData, Any], RecModel]) -> Callable[[PreparedData, Any], RecModel]:
    def for_data(prepared: PreparedData, config: Any) -> RecModel:
        model = build(prepared, config)
        model.fit(prepared.split.train)
        return model

    return for_data


def _entries() -> dict[str, ModelEntry]:
    from kgrec.gnn.models import baselines
    from kgrec.gnn.models.bundle_fusion import BundleEASE, BundleEASEConfig
    from kgrec.gnn.models.bundle_gnn import BundleModelConfig, CrossViewBundleModel
    from kgrec.gnn.models.hetero_sage import HeteroSAGE, HeteroSAGEConfig
    from kgrec.gnn.models.kgcf import KGCF, KGCFConfig
    from kgrec.gnn.models.lightgcn import LightGCNConfig, LightGCNRec
    from kgrec.gnn.models.rp3beta import RP3beta, RP3betaConfig

    def text(prepared: PreparedData, config: Any) -> RecModel:
        import torch

        if not prepared.snapshot.embedding_mask.any():
            raise ModelError("the text baseline needs product vectors: run `kgrec embed` first")
        return baselines.TextSimilarity(torch.from_numpy(prepared.snapshot.product_embeddings))

    def lightgcn(p: PreparedData, c: Any) -> RecModel:
        return LightGCNRec(p.split.train.num_users, p.split.train.num_items, c)

    entries = [
        ModelEntry(KGCF, KGCFConfig, _fit_on_train(_kgcf)),
        ModelEntry(HeteroSAGE, HeteroSAGEConfig, _hetero_sage),
        ModelEntry(LightGCNRec, LightGCNConfig, _fit_on_train(lightgcn)),
        ModelEntry(CrossViewBundleModel, BundleModelConfig),  # built by gnn.bundle_recs from the bundle graph
        ModelEntry(BundleEASE, BundleEASEConfig),  # Youshu benchmark: fused with crosscbr there
        ModelEntry(baselines.Popularity, None, _fit_on_train(lambda p, c: baselines.Popularity())),
        ModelEntry(baselines.ItemKNN, baselines.ItemKNNConfig, _fit_on_train(lambda p, c: baselines.ItemKNN(c))),
        ModelEntry(baselines.EASE, baselines.EASEConfig, _fit_on_train(lambda p, c: baselines.EASE(c))),
        ModelEntry(baselines.TextSimilarity, None, _fit_on_train(text)),
        ModelEntry(RP3beta, RP3betaConfig, _fit_on_train(lambda p, c: RP3beta(c))),
    ]
    return {e.cls.name: e for e in entries}


def entry(name: str) -> ModelEntry:
    """The registered model ``name``; ModelError listing the names otherwise."""
    entries = _entries()
    if name not in entries:
        raise ModelError(f"unknown model {name!r}: use one of {', '.join(entries)}")
    return entries[name]


def model_names(trainable: bool | None = None) -> list[str]:
    """Registered names that can be built from prepared data (only trainable / fitted ones if asked)."""
    return [n for n, e in _entries().items() if e.for_data and (trainable is None or e.cls.trainable == trainable)]


def make_config(name: str, config: Any = None) -> Any:
    """``config`` as the model's config dataclass (from an instance, a mapping of fields, or None)."""
    cls = entry(name).config
    if cls is None:
        if config:
            raise ModelError(f"model {name!r} takes no config, got {config!r}")
        return None
    if config is None:
        return cls()
    if isinstance(config, cls):
        return config
    if isinstance(config, Mapping):
        known = {f.name for f in fields(cls)}
        unknown = set(config) - known
        if unknown:
            raise ModelError(f"{name} config has no field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**config)
    raise ModelError(f"{name} expects a {cls.__name__}, got {type(config).__name__}")


def build_model(name: str, config: Any = None, **dims: Any) -> RecModel:
    """A fresh ``name`` model of the given sizes (``dims``, as ``model.dims()`` returns them)."""
    return entry(name).cls(**dims, config=make_config(name, config))


def model_for_data(name: str, prepared: PreparedData, config: Any = None) -> RecModel:
    """A fresh ``name`` model over ``prepared`` (graph attached, or fitted on the training split)."""
    e = entry(name)
    if e.for_data is None:
        raise ModelError(f"model {name!r} is not built from the product graph")
    return e.for_data(prepared, make_config(name, config))


def describe(model: RecModel) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(name, config fields, dims)`` of a registered, checkpointable model."""
    e = entry(model.name)
    dims = getattr(model, "dims", None)
    if not isinstance(model, e.cls) or dims is None:
        raise ModelError(f"cannot checkpoint a {type(model).__name__}: it has no dims() to rebuild it from")
    config = getattr(model, "config", None)
    return model.name, (asdict(config) if is_dataclass(config) and not isinstance(config, type) else {}), dims()

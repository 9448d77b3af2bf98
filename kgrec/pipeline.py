"""The main job: ingest the bundled sample into Neo4j, embed, train, evaluate, recommend, explain.

Each step is a small function over the packages below; ``run_demo`` ties them together and
returns a ``DemoReport`` that the CLI prints. Nothing here holds recommender logic of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from kgrec.config import Settings
from kgrec.gnn.bundles import BasketCompletion, ComposedBundle, complete_basket, compose_bundle
from kgrec.gnn.checkpoint import load_checkpoint, restore_for_split
from kgrec.gnn.contract import RecModel
from kgrec.gnn.data import DataConfig, PreparedData, prepare_data, refit_data
from kgrec.gnn.evaluate import ComparisonTable, evaluate_models
from kgrec.gnn.recommender import Recommendation, Recommender
from kgrec.gnn.registry import SERVED, model_for_data
from kgrec.gnn.train import RunConfig, TrainConfig, TrainResult, require_learned, train_prepared
from kgrec.ingest.pipeline import IngestReport, ingest_source
from kgrec.kg.connection import GraphConnection
from kgrec.kg.embeddings import EmbedSummary, TextEncoder, embed_products
from kgrec.kg.errors import ModelError
from kgrec.kg.export import export_graph
from kgrec.kg.schema import ensure_schema
from kgrec.queries.explain import Explanation, explain

DEMO_USERS = 3
Step = Callable[[str], None]


@dataclass
class UserRecommendations:
    """Top products for one user, each with its explanation."""

    user_id: str
    items: list[tuple[Recommendation, Explanation]]


@dataclass
class DemoReport:
    """Everything the main job did, step by step."""

    ingest: IngestReport
    embed: EmbedSummary
    training: dict[str, TrainResult]
    comparison: ComparisonTable
    users: list[UserRecommendations] = field(default_factory=list)
    basket: BasketCompletion | None = None
    bundle: ComposedBundle | None = None
    run_dir: Path | None = None


def fit_baselines(prepared: PreparedData) -> dict[str, RecModel]:
    """Popularity, item-kNN, EASE, RP3beta and (when vectors exist) text similarity, fitted on train."""
    names = ["popularity", "itemknn", "ease", "rp3beta"] + (["text"] if prepared.snapshot.embedding_mask.any() else [])
    return {name: model_for_data(name, prepared) for name in names}


def compare_checkpoints(
    conn: GraphConnection,
    checkpoints: list[Path],
    split: str = "test",
    with_baselines: bool = True,
    seed: int = 42,
    strategy: str | None = None,
) -> tuple[ComparisonTable, PreparedData]:
    """Full-ranking metrics of saved models and the baselines on the same split of the live graph.

    The split strategy is the first checkpoint's (so models are tested on what they never saw),
    unless ``strategy`` names another; ``prepare_data`` refuses a split with too few customers.
    Checkpoints refitted on train + validation (``info["refit"]``) are tested with that history, and
    the baselines are fitted on it too; they cannot be scored on validation, which they have seen.
    """
    loaded = [(path, load_checkpoint(path)) for path in checkpoints]
    data_config = DataConfig(**loaded[0][1].info["data_config"]) if loaded else DataConfig(seed=seed)
    if strategy is not None:
        data_config = replace(data_config, split=strategy)  # type: ignore[arg-type]
    prepared = prepare_data(export_graph(conn), data_config)
    refitted = [path for path, ckpt in loaded if ckpt.info.get("refit")]
    if refitted and split == "valid":
        raise ModelError(
            f"{refitted[0]} was refitted on train + validation, so its validation score means nothing: "
            "evaluate it --on test, or train with `kgrec train --no-refit`"
        )
    if refitted:
        if len(refitted) < len(loaded):
            raise ModelError(
                "some checkpoints were refitted on train + validation and some were not: compare runs made "
                "the same way (`kgrec train` refits by default; --no-refit does not)"
            )
        prepared = refit_data(prepared)
    models = {f"{ckpt.name} ({path.parent.name})": restore_for_split(ckpt, prepared) for path, ckpt in loaded}
    if with_baselines:
        models |= fit_baselines(prepared)
    return evaluate_models(models, prepared.split, on=split), prepared


def train_and_compare(
    prepared: PreparedData, run_dir: Path, settings: Settings, epochs: int
) -> tuple[dict[str, TrainResult], ComparisonTable, Path]:
    """Train the served model (KGCF) and LightGCN, compare them with the baselines on test: the standard protocol.

    Each model is selected on validation (early stopping; KGCF's fusion weights when validation is big
    enough, ``gnn.train.choose_fusion``), then refitted on train + validation, like the baselines, and
    tested once with that history. ModelError (from ``require_learned``) when the served model learned
    nothing: it is not served.
    """
    train = TrainConfig(epochs=epochs, seed=settings.seed, device=settings.device)
    results: dict[str, TrainResult] = {}
    models = {}
    for name in (SERVED, "lightgcn"):
        model, result = train_prepared(prepared, RunConfig(model=name, train=train, out_dir=str(run_dir), refit=True))
        models[name] = model
        results[name] = result
    require_learned(results[SERVED])
    refit = refit_data(prepared)
    models |= fit_baselines(refit)
    table = evaluate_models(models, refit.split, on="test")
    return results, table, Path(results[SERVED].checkpoint or "")


def demo_users(prepared: PreparedData, count: int = DEMO_USERS) -> list[str]:
    """The users with the most test targets: the ones whose recommendations can be checked."""
    import torch

    users, counts = torch.unique(prepared.split.test.edge_index[0], return_counts=True)
    order = torch.argsort(counts, descending=True, stable=True)[:count]
    names = prepared.id_maps["user"]
    return [names[int(users[i])] for i in order]


def run_demo(
    settings: Settings, source: str = "sample", epochs: int = 40, k: int = 5, step: Step = lambda _: None
) -> DemoReport:
    """Start Neo4j if local, ingest ``source``, embed, train, evaluate, recommend and explain."""
    if settings.uses_local_server():
        step("starting Neo4j")
        settings.local_server().start()
    with GraphConnection(settings.credentials()) as conn:
        ensure_schema(conn)
        step(f"ingesting {source}")
        ingest = ingest_source(
            conn,
            source,
            quarantine_dir=settings.state_dir / "quarantine",
            write_batch_size=settings.write_batch_size,
            progress=True,
        )
        step("embedding product texts")
        embedded = embed_products(conn, TextEncoder(settings.embedding_model, settings.device))
        step("exporting the graph and splitting it by time")
        prepared = prepare_data(export_graph(conn), DataConfig(seed=settings.seed))
        run_dir = settings.runs_dir / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-demo"
        step("training KGCF (the served model) and LightGCN, fitting the baselines")
        training, comparison, checkpoint = train_and_compare(prepared, run_dir, settings, epochs)
        step("recommending and explaining")
        recommender = Recommender.load(checkpoint, settings.device).refresh(conn)
        users = [
            UserRecommendations(
                user, [(rec, explain(conn, user, rec.product_id)) for rec in recommender.recommend(user, k)]
            )
            for user in demo_users(prepared)
        ]
        first = users[0] if users else None
        basket = bundle = None
        if first and first.items:
            seed_product = first.items[0][0].product_id
            basket = complete_basket(conn, [seed_product], k=k)
            bundle = compose_bundle(conn, first.user_id, anchor_product=seed_product, size=3)
    return DemoReport(ingest, embedded, training, comparison, users, basket, bundle, run_dir)

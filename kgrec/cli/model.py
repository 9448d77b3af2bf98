"""``kgrec embed | train | evaluate | recommend | similar``: thin commands over kg/ and gnn/."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kgrec.cli.common import console, fail, failing_cleanly, newest_checkpoint, open_graph, run_summary
from kgrec.config import Settings

if TYPE_CHECKING:
    from kgrec.kg.embeddings import TextMatch
    from kgrec.serving import ScoredProduct

__all__ = ["newest_checkpoint", "register"]  # newest_checkpoint: still imported from here by bundles/serve

SPLIT_HELP = (
    "auto (temporal, else leave-last-basket, with the reason printed), temporal, leave-last-basket "
    "(each customer's last order), random (seeded per-customer holdout) or official (marked edges)"
)
SPLITS = ("auto", "temporal", "leave-last-basket", "random", "official")

# --hidden / --layers: the registry name → (width field, depth field) of its config; other models: defaults
_SIZE_FIELDS = {
    "kgcf": ("dim", "num_layers"),
    "hetero_sage": ("hidden", "num_layers"),
    "lightgcn": ("embedding_dim", "num_layers"),
}
SERVED = "kgcf"  # kgrec.gnn.registry.SERVED (not imported: it would load torch at CLI start)


def _recs_table(title: str, recs: Sequence[ScoredProduct | TextMatch], why: dict[str, str] | None = None) -> Table:
    table = Table(title=title)
    for column in ("#", "product", "score", "title", *(["why"] if why is not None else [])):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for i, r in enumerate(recs, 1):
        extra = [escape(why.get(r.product_id, ""))] if why is not None else []
        table.add_row(str(i), r.product_id, f"{r.score:.4f}", escape(r.title or ""), *extra)
    return table


def register(app: typer.Typer) -> None:
    """Add the model commands to the main app."""

    @app.command("embed")
    def embed(
        force: Annotated[bool, typer.Option("--force", help="re-encode every product")] = False,
        device: Annotated[str | None, typer.Option(help="cpu, cuda or auto (default: settings)")] = None,
    ) -> None:
        """Encode product texts with the sentence-transformer and store them on Product nodes."""
        from kgrec.kg.embeddings import TextEncoder, embed_products

        with open_graph() as (settings, conn), console.status("encoding product texts…"):
            encoder = TextEncoder(settings.embedding_model, device or settings.device)
            s = embed_products(conn, encoder, force=force)
        console.print(
            f"{s.products:,} products: {s.encoded:,} encoded, {s.cached:,} unchanged (cached), "
            f"{s.without_text:,} without text; {s.dimensions} dimensions, vector index ready"
        )

    @app.command("train")
    def train(
        model: Annotated[
            str, typer.Option(help="kgcf (the served knowledge-graph GNN), hetero_sage or lightgcn")
        ] = SERVED,
        epochs: Annotated[int, typer.Option(min=1)] = 40,
        device: Annotated[str | None, typer.Option(help="cpu, cuda or auto (default: settings)")] = None,
        out: Annotated[Path | None, typer.Option(help="run folder (default: <runs_dir>/<time>-<model>)")] = None,
        loss: Annotated[str, typer.Option(help="bpr or bce")] = "bpr",
        negatives: Annotated[str, typer.Option(help="uniform or hard")] = "uniform",
        lr: Annotated[float, typer.Option()] = 0.01,
        batch_size: Annotated[int, typer.Option(min=1)] = 8192,
        patience: Annotated[int, typer.Option(min=1)] = 10,
        hidden: Annotated[int, typer.Option(min=4, help="embedding width")] = 64,
        layers: Annotated[int, typer.Option(min=1, help="message-passing layers")] = 2,
        split: Annotated[str, typer.Option(help=SPLIT_HELP)] = "auto",
        incremental: Annotated[
            bool,
            typer.Option("--incremental", help="fine-tune the newest --model checkpoint on the graph as it is now"),
        ] = False,
        resume: Annotated[
            Path | None, typer.Option(help="continue the interrupted run in this folder from its last finished epoch")
        ] = None,
        refit: Annotated[
            bool,
            typer.Option(
                "--refit/--no-refit",
                help="after selection on validation, train again on train + validation (checkpoint and test use it)",
            ),
        ] = True,
    ) -> None:
        """Export the graph, split it (temporal for orders), select on validation, refit, test, checkpoint."""
        from kgrec.gnn.data import DataConfig, prepare_data
        from kgrec.gnn.plots import history_table
        from kgrec.gnn.registry import model_names
        from kgrec.gnn.train import RunConfig, TrainConfig, require_learned, train_prepared
        from kgrec.kg.export import export_graph

        if model not in model_names(trainable=True):
            raise typer.BadParameter(f"use one of {', '.join(model_names(trainable=True))}", param_hint="--model")
        if split not in SPLITS:
            raise typer.BadParameter(f"use one of {', '.join(SPLITS)}", param_hint="--split")
        settings = Settings()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run_dir = resume or out or settings.runs_dir / f"{stamp}-{model}"
        base = newest_checkpoint(settings, model) if incremental else None
        if incremental and base is None:
            raise fail(f"no {model} checkpoint under {settings.runs_dir} to fine-tune: run `kgrec train` first")
        if resume is not None and not (resume / f"{model}.state.pt").is_file():
            raise fail(f"no interrupted {model} run in {resume} (no {model}.state.pt): start it with `kgrec train`")
        sizes = _SIZE_FIELDS.get(model)
        config = RunConfig(
            model=model,
            data=DataConfig(split=split, seed=settings.seed),  # type: ignore[arg-type]
            model_config={sizes[0]: hidden, sizes[1]: layers} if sizes else None,
            train=TrainConfig(
                epochs=epochs,
                lr=lr,
                batch_size=batch_size,
                patience=patience,
                loss=loss,  # type: ignore[arg-type]
                negatives=negatives,  # type: ignore[arg-type]
                seed=settings.seed,
                device=device or settings.device,
                resume=resume is not None,
            ),
            out_dir=str(run_dir),
            refit=refit and not incremental,  # a fine-tuned checkpoint keeps its warm start
        )
        with open_graph(settings) as (_, conn):
            prepared = prepare_data(export_graph(conn), config.data)
        console.print(
            f"{prepared.split_kind} split ({prepared.split_reason}): "
            f"{prepared.split.train.num_edges:,} training pairs, {prepared.split.valid.num_edges:,} validation and "
            f"{prepared.split.test.num_edges:,} test targets"
        )
        with failing_cleanly():
            try:
                result = require_learned(train_prepared(prepared, config, warm_from=base)[1])
            except KeyboardInterrupt:
                raise fail(
                    f"interrupted; the last finished epoch is saved: continue with `kgrec train --model {model} "
                    f"--resume {run_dir}` (same options)",
                    code=130,
                ) from None
        console.print(history_table(result))
        console.print(
            f"best epoch {result.best_epoch}: valid {result.metric} = {result.best_valid:.4f} "
            f"({result.seconds:.0f} s on {result.device})"
        )
        console.print(run_summary(result))
        if result.test:
            console.print(
                "test: "
                + ", ".join(
                    f"{k}={v:.4f}" for k, v in result.test.items() if k.split("@")[0] in ("recall", "ndcg", "hit")
                )
            )
        if base is not None:
            from kgrec.gnn.checkpoint import load_checkpoint

            with failing_cleanly():
                full = load_checkpoint(base).info.get("full_seconds")
            versus = f"; the full run took {full:.0f} s ({full / max(result.seconds, 1e-9):.1f}x)" if full else ""
            console.print(f"incremental from {base}: {result.seconds:.0f} s{versus}")
        if result.resumed_from:
            console.print(f"resumed after epoch {result.resumed_from}")
        console.print(f"checkpoint {result.checkpoint}\ncurves {result.plot}")

    @app.command("evaluate")
    def evaluate_cmd(
        checkpoint: Annotated[
            list[Path] | None, typer.Option(help="checkpoint(s); default: newest kgcf and lightgcn")
        ] = None,
        on: Annotated[str, typer.Option(help="the part to score: test or valid")] = "test",
        split: Annotated[
            str | None, typer.Option(help="split strategy (default: the checkpoint's); " + SPLIT_HELP)
        ] = None,
        baselines: Annotated[bool, typer.Option(help="also fit popularity, item-kNN, EASE, text")] = True,
        task: Annotated[
            str, typer.Option(help="ranking (user→product) or basket (complete held-out baskets; one-order shops)")
        ] = "ranking",
    ) -> None:
        """Full-ranking Recall/NDCG of trained models and baselines, side by side, on one split."""
        from kgrec.pipeline import compare_checkpoints

        settings = Settings()
        if task == "basket":
            _evaluate_baskets(settings)
            return
        if task != "ranking":
            raise typer.BadParameter("use ranking or basket", param_hint="--task")
        paths = list(checkpoint or [p for k in (SERVED, "lightgcn") if (p := newest_checkpoint(settings, k))])
        if on not in ("test", "valid"):
            raise typer.BadParameter("use test or valid", param_hint="--on")
        if split is not None and split not in SPLITS:
            raise typer.BadParameter(f"use one of {', '.join(SPLITS)}", param_hint="--split")
        with open_graph(settings) as (_, conn):
            table, prepared = compare_checkpoints(conn, paths, on, baselines, settings.seed, split)
        part = getattr(prepared.split, on)
        out = Table(
            title=f"{on} part of the {prepared.split_kind} split ({prepared.split_reason}): "
            f"{part.num_edges:,} targets of {part.users().numel():,} customers"
        )
        names = ["recall@20", "ndcg@20", "hit@20", "mrr"]
        for column in ("model", *names, "eval s"):
            out.add_column(column, justify="left" if column == "model" else "right")
        for name, report in table.reports.items():
            out.add_row(name, *(f"{report.metrics.get(n, float('nan')):.4f}" for n in names), f"{report.eval_s:.1f}")
        console.print(out)

    @app.command("recommend")
    def recommend(
        user_id: Annotated[
            str | None, typer.Argument(help="a User id of the graph (omit with --basket or --write-back)")
        ] = None,
        k: Annotated[int, typer.Option("-k", "--k", min=1, max=100)] = 10,
        checkpoint: Annotated[Path | None, typer.Option(help="default: newest kgcf checkpoint")] = None,
        basket: Annotated[
            str | None, typer.Option(help="comma-separated product ids, for a user not in the graph")
        ] = None,
        include_purchased: Annotated[bool, typer.Option("--include-purchased")] = False,
        write_back: Annotated[
            bool,
            typer.Option(
                "--write-back", help="store top-k as (User)-[:RECOMMENDED]->(Product): USER_ID, or every user"
            ),
        ] = False,
        explain: Annotated[bool, typer.Option("--explain", help="add the best graph reason of each product")] = False,
    ) -> None:
        """Top-k products for a user (or for an anonymous basket with --basket); --write-back stores them."""
        from kgrec.cli.serve import open_serving

        if not user_id and not basket and not write_back:
            raise typer.BadParameter("name a user, or pass --basket with product ids", param_hint="USER_ID")
        with open_graph() as (settings, conn):
            serving = open_serving(settings, conn, checkpoint)
            if write_back:
                done = serving.write_back([user_id] if user_id else None, k)
                console.print(
                    f"{done.relationships:,} RECOMMENDED relationships for {done.users:,} users "
                    f"(model {done.model}, at {done.at}); previous ones replaced"
                    + (f"; nothing to recommend to {len(done.skipped):,}" if done.skipped else "")
                )
                return
            if basket:
                page = serving.recommend_for_basket([b.strip() for b in basket.split(",") if b.strip()], k)
            else:
                page = serving.recommend(str(user_id), k, exclude_purchased=not include_purchased)
            reasons = serving.explain_page(page, 1) if explain else {}
        why = {p: e.summary for p, e in reasons.items()} if explain else None
        console.print(_recs_table(f"recommendations for {'basket' if basket else user_id}", page.items, why))
        if page.note:
            console.print(f"[yellow]{escape(page.note)}[/yellow]")

    @app.command("similar")
    def similar(
        product_id: Annotated[str, typer.Argument(help="a Product id, or free text with --text")],
        k: Annotated[int, typer.Option("-k", "--k", min=1)] = 10,
        text: Annotated[bool, typer.Option("--text", help="search by text through the vector index")] = False,
        checkpoint: Annotated[Path | None, typer.Option(help="default: newest kgcf checkpoint")] = None,
    ) -> None:
        """Products bought with a product (the model, the product as a basket), or nearest by text with --text."""
        recs: Sequence[ScoredProduct | TextMatch]
        with open_graph() as (settings, conn):
            if text:
                from kgrec.kg.embeddings import TextEncoder, similar_products_by_text

                recs = similar_products_by_text(
                    conn, product_id, k, TextEncoder(settings.embedding_model, settings.device)
                )
            else:
                from kgrec.cli.serve import open_serving

                recs = open_serving(settings, conn, checkpoint).similar(product_id, k).items
        console.print(_recs_table(f"similar to {product_id!r}", recs))


def _evaluate_baskets(settings: Settings) -> None:
    """Fit every basket model on training orders, choose on validation baskets, print test once."""
    from kgrec.gnn.baskets import BasketTaskConfig, run_basket_task
    from kgrec.kg.export import export_graph

    with open_graph(settings) as (_, conn):
        snapshot = export_graph(conn)
    with failing_cleanly(), console.status("fitting basket models…"):
        report = run_basket_task(snapshot, BasketTaskConfig(seed=settings.seed))
    counts = ", ".join(f"{k} {v:,}" for k, v in report.counts.items())
    out = Table(title=f"basket completion, test baskets (full ranking, context masked): {counts}")
    names = ["hit@10", "recall@10", "mrr"]
    for column in ("model (chosen on validation)", *names):
        out.add_column(column, justify="right" if column in names else "left")
    for model, metrics in report.test.items():
        out.add_row(
            f"{model} ({report.chosen.get(model, '')})", *(f"{metrics.get(n, float('nan')):.4f}" for n in names)
        )
    console.print(out)

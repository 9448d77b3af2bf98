"""``kgrec embed | train | evaluate | recommend | similar``: thin commands over kg/ and gnn/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError

console = Console()


def _fail(error: KgrecError) -> typer.Exit:
    console.print(f"[red]error:[/red] {error}")
    return typer.Exit(code=1)


def newest_checkpoint(settings: Settings, kind: str | None = None) -> Path | None:
    """The newest checkpoint under the runs folder (``kind``: file stem such as ``hetero_sage``)."""
    if not settings.runs_dir.is_dir():
        return None
    pattern = f"**/{kind}.pt" if kind else "**/*.pt"
    found = sorted(settings.runs_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _recs_table(title: str, recs: list) -> Table:  # type: ignore[type-arg]
    table = Table(title=title)
    for column in ("#", "product", "score", "title"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for i, r in enumerate(recs, 1):
        table.add_row(str(i), r.product_id, f"{r.score:.4f}", r.title or "")
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

        settings = Settings()
        try:
            with GraphConnection(settings.credentials()) as conn, console.status("encoding product texts…"):
                encoder = TextEncoder(settings.embedding_model, device or settings.device)
                s = embed_products(conn, encoder, force=force)
        except KgrecError as error:
            raise _fail(error) from error
        console.print(
            f"{s.products:,} products: {s.encoded:,} encoded, {s.cached:,} unchanged (cached), "
            f"{s.without_text:,} without text; {s.dimensions} dimensions, vector index ready"
        )

    @app.command("train")
    def train(
        model: Annotated[str, typer.Option(help="gnn (knowledge-graph SAGE) or lightgcn")] = "gnn",
        epochs: Annotated[int, typer.Option(min=1)] = 40,
        device: Annotated[str | None, typer.Option(help="cpu, cuda or auto (default: settings)")] = None,
        out: Annotated[Path | None, typer.Option(help="run folder (default: <runs_dir>/<time>-<model>)")] = None,
        loss: Annotated[str, typer.Option(help="bpr or bce")] = "bpr",
        negatives: Annotated[str, typer.Option(help="uniform or hard")] = "uniform",
        lr: Annotated[float, typer.Option()] = 0.01,
        batch_size: Annotated[int, typer.Option(min=1)] = 8192,
        patience: Annotated[int, typer.Option(min=1)] = 10,
        hidden: Annotated[int, typer.Option(min=4)] = 64,
        layers: Annotated[int, typer.Option(min=1)] = 2,
    ) -> None:
        """Export the graph, split it (temporal for orders), train with early stopping, test, checkpoint."""
        from kgrec.gnn.models.hetero_sage import HeteroSAGEConfig
        from kgrec.gnn.plots import history_table
        from kgrec.gnn.train import RunConfig, TrainConfig, train_on_graph

        settings = Settings()
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        run_dir = out or settings.runs_dir / f"{stamp}-{model}"
        config = RunConfig(
            model=model,  # type: ignore[arg-type]
            gnn=HeteroSAGEConfig(hidden=hidden, num_layers=layers),
            train=TrainConfig(
                epochs=epochs,
                lr=lr,
                batch_size=batch_size,
                patience=patience,
                loss=loss,
                negatives=negatives,  # type: ignore[arg-type]
                seed=settings.seed,
                device=device or settings.device,
            ),
            out_dir=str(run_dir),
        )
        try:
            with GraphConnection(settings.credentials()) as conn:
                result = train_on_graph(conn, config)
        except KgrecError as error:
            raise _fail(error) from error
        console.print(history_table(result))
        console.print(
            f"best epoch {result.best_epoch}: valid {result.metric} = {result.best_valid:.4f} "
            f"({result.seconds:.0f} s on {result.device})"
        )
        if result.test:
            console.print(
                "test: "
                + ", ".join(
                    f"{k}={v:.4f}" for k, v in result.test.items() if k.split("@")[0] in ("recall", "ndcg", "hit")
                )
            )
        console.print(f"checkpoint {result.checkpoint}\ncurves {result.plot}")

    @app.command("evaluate")
    def evaluate_cmd(
        checkpoint: Annotated[
            list[Path] | None, typer.Option(help="checkpoint(s); default: newest gnn and lightgcn")
        ] = None,
        split: Annotated[str, typer.Option(help="test or valid")] = "test",
        baselines: Annotated[bool, typer.Option(help="also fit popularity, item-kNN, EASE, text")] = True,
    ) -> None:
        """Full-ranking Recall/NDCG of trained models and baselines, side by side, on one split."""
        from kgrec.pipeline import compare_checkpoints

        settings = Settings()
        paths = list(checkpoint or [p for k in ("hetero_sage", "lightgcn") if (p := newest_checkpoint(settings, k))])
        try:
            with GraphConnection(settings.credentials()) as conn:
                table, prepared = compare_checkpoints(conn, paths, split, baselines, settings.seed)
        except KgrecError as error:
            raise _fail(error) from error
        out = Table(
            title=f"{split} split ({prepared.split_kind}), {getattr(prepared.split, split).num_edges:,} targets"
        )
        names = ["recall@20", "ndcg@20", "hit@20", "mrr"]
        for column in ("model", *names, "eval s"):
            out.add_column(column, justify="left" if column == "model" else "right")
        for name, report in table.reports.items():
            out.add_row(name, *(f"{report.metrics.get(n, float('nan')):.4f}" for n in names), f"{report.eval_s:.1f}")
        console.print(out)

    @app.command("recommend")
    def recommend(
        user_id: Annotated[str, typer.Argument(help="a User id of the graph")],
        k: Annotated[int, typer.Option("-k", "--k", min=1)] = 10,
        checkpoint: Annotated[Path | None, typer.Option(help="default: newest hetero_sage checkpoint")] = None,
        basket: Annotated[
            str | None, typer.Option(help="comma-separated product ids, for a user not in the graph")
        ] = None,
        include_purchased: Annotated[bool, typer.Option("--include-purchased")] = False,
    ) -> None:
        """Top-k products for a user (or for an anonymous basket with --basket)."""
        settings = Settings()
        try:
            rec = _recommender(settings, checkpoint)
            with GraphConnection(settings.credentials()) as conn:
                rec.refresh(conn)
            if basket:
                recs = rec.recommend_for_basket([b.strip() for b in basket.split(",") if b.strip()], k)
            else:
                recs = rec.recommend(user_id, k, exclude_purchased=not include_purchased)
        except KgrecError as error:
            raise _fail(error) from error
        console.print(_recs_table(f"recommendations for {'basket' if basket else user_id}", recs))

    @app.command("similar")
    def similar(
        product_id: Annotated[str, typer.Argument(help="a Product id, or free text with --text")],
        k: Annotated[int, typer.Option("-k", "--k", min=1)] = 10,
        text: Annotated[bool, typer.Option("--text", help="search by text through the vector index")] = False,
        checkpoint: Annotated[Path | None, typer.Option(help="default: newest hetero_sage checkpoint")] = None,
    ) -> None:
        """Products bought with a product (co-purchase head), or nearest by text with --text."""
        settings = Settings()
        try:
            with GraphConnection(settings.credentials()) as conn:
                if text:
                    from kgrec.kg.embeddings import TextEncoder, similar_products_by_text

                    recs = similar_products_by_text(
                        conn, product_id, k, TextEncoder(settings.embedding_model, settings.device)
                    )
                else:
                    recs = _recommender(settings, checkpoint).refresh(conn).similar_products(product_id, k)
        except KgrecError as error:
            raise _fail(error) from error
        console.print(_recs_table(f"similar to {product_id!r}", recs))


def _recommender(settings: Settings, checkpoint: Path | None):  # type: ignore[no-untyped-def]
    from kgrec.gnn.recommender import Recommender
    from kgrec.kg.errors import ModelError

    path = checkpoint or newest_checkpoint(settings, "hetero_sage")
    if path is None:
        raise ModelError(f"no trained model under {settings.runs_dir}: run `kgrec train` first")
    return Recommender.load(path, settings.device)

"""``kgrec demo``: the main job of the README, printed step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kgrec.cli.common import console, failing_cleanly, run_summary
from kgrec.config import Settings

if TYPE_CHECKING:  # the pipeline imports torch: only `kgrec demo` pays for it
    from kgrec.pipeline import DemoReport

METRICS = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr")


def print_demo(report: DemoReport) -> None:
    """Tables for the comparison, then each user's recommendations with their reasons."""
    from kgrec.cli.ingest import print_report

    print_report(report.ingest)
    e = report.embed
    console.print(
        f"embeddings: {e.encoded:,} encoded, {e.cached:,} cached, {e.without_text:,} without text "
        f"({e.dimensions} dimensions, vector index ready)"
    )
    for name, result in report.training.items():
        console.print(
            f"{name}: best epoch {result.best_epoch}, valid {result.metric} {result.best_valid:.4f}, "
            f"{result.seconds:.0f} s on {result.device}; curves {result.plot}"
        )
        console.print(f"  {run_summary(result)}")
    table = Table(
        title="test split (temporal): every model refitted on train + validation, full ranking over all "
        "products, purchases before the test period masked"
    )
    for column in ("model", *METRICS):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, r in report.comparison.reports.items():
        table.add_row(name, *(f"{r.metrics.get(m, float('nan')):.4f}" for m in METRICS))
    console.print(table)
    for user in report.users:
        console.print(f"\n[bold]recommendations for user {user.user_id}[/bold]")
        for rank, (rec, why) in enumerate(user.items, 1):
            console.print(
                f" {rank}. {rec.title or rec.product_id} [dim]({rec.product_id}, score {rec.score:.3f})[/dim]"
            )
            for reason in why.reasons[:2]:
                console.print(f"    - {reason.text}")
    if report.basket:
        console.print(f"\n[bold]complete the basket {report.basket.basket}[/bold]")
        for s in report.basket.suggestions:
            console.print(f" + {s.title or s.product_id}: {s.reasons[0] if s.reasons else ''}")
    if report.bundle:
        b = report.bundle
        console.print(f"\n[bold]a bundle for user {b.user_id}[/bold] (total £{b.total_price or 0:.2f})")
        for item in b.items:
            console.print(f" * {item.title or item.product_id}: {item.reasons[0] if item.reasons else ''}")
    console.print(f"\nrun folder: {report.run_dir}")


def register(app: typer.Typer) -> None:
    """Add ``kgrec demo`` to the main app."""

    @app.command("demo")
    def demo(
        source: Annotated[
            str, typer.Option(help="what to ingest: sample, a canonical folder, or a dataset name")
        ] = "sample",
        epochs: Annotated[int, typer.Option(min=1, help="training epochs (early stopping may end sooner)")] = 40,
        k: Annotated[int, typer.Option("-k", min=1, help="recommendations per user")] = 5,
    ) -> None:
        """Start Neo4j, ingest the bundled sample, embed, train, evaluate, recommend and explain."""
        from kgrec.pipeline import run_demo

        with failing_cleanly():
            report = run_demo(Settings(), source, epochs, k, step=lambda s: console.rule(s))
        print_demo(report)

"""``kgrec ingest SOURCE`` and ``kgrec sample build``: load data into the graph, rebuild the demo sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kgrec.cli.common import console, fail, failing_cleanly, open_graph
from kgrec.ingest.datasets import DEFAULT_DATA_DIR, NAMED_SOURCES, SAMPLE_DIR
from kgrec.kg.defaults import DEFAULT_MIN_ORDERS

if TYPE_CHECKING:  # the ingest stack (pandas, scipy, the driver) loads only when `kgrec ingest` runs
    from kgrec.ingest.pipeline import IngestReport

#: What to do when the server dies mid-ingest: every batch is one transaction and every write a MERGE.
INGEST_ADVICE = (
    "the ingest stopped part-way; restart the server with `kgrec db start` and run the same `kgrec ingest` "
    "again: ingest is idempotent, so the graph ends as if it had run once"
)

sample_app = typer.Typer(help="The bundled demo sample (a slice of UCI Online Retail).", no_args_is_help=True)


def print_report(report: IngestReport) -> None:
    """The per-file summary table, source-level drops and what was written."""
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    table = Table(title=f"ingest {report.source}")
    for column in ("file", "read", "accepted", "quarantined", "merged", "reasons"):
        table.add_column(column, justify="left" if column in ("file", "reasons") else "right")
    for f in report.files:
        reasons = ", ".join(f"{k} {v:,}" for k, v in f.reasons.items()) or "-"
        table.add_row(f"{f.name}.csv", f"{f.read:,}", f"{f.accepted:,}", f"{f.quarantined:,}", f"{f.merged:,}", reasons)
    table.add_row(
        "total",
        f"{report.read:,}",
        f"{report.accepted:,}",
        f"{report.quarantined:,}",
        f"{sum(f.merged for f in report.files):,}",
        "",
        style="bold",
    )
    console.print(table)
    dropped = {k: v for k, v in report.dropped.items() if v}
    if dropped:
        console.print("dropped by the source reader: " + ", ".join(f"{k} {v:,}" for k, v in dropped.items()))
    console.print(
        f"written: {report.nodes_created:,} nodes and {report.relationships_created:,} relationships "
        f"created, {report.properties_set:,} properties set; PURCHASED recomputed for "
        f"{report.purchased_users:,} users"
    )
    if report.copurchase is not None:
        console.print(
            f"BOUGHT_WITH: {report.copurchase.pairs:,} product pairs from {report.copurchase.baskets:,} baskets"
        )
    for path in report.quarantine_files:
        console.print(f"[yellow]quarantined rows:[/yellow] {path}")
    console.print(f"done in {report.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``sample`` to the main app."""

    @app.command("ingest")
    def ingest(
        source: Annotated[str, typer.Argument(help=f"a canonical folder, or one of: {', '.join(NAMED_SOURCES)}")],
        data_dir: Annotated[Path, typer.Option(help="where the named real datasets live")] = DEFAULT_DATA_DIR,
        quarantine_dir: Annotated[
            Path | None, typer.Option(help="where rejected rows go (default: <state_dir>/quarantine)")
        ] = None,
        write_batch_size: Annotated[
            int | None,
            typer.Option("--write-batch-size", min=1, help="rows per write transaction (default: settings)"),
        ] = None,
        no_copurchase: Annotated[bool, typer.Option("--no-copurchase", help="skip BOUGHT_WITH")] = False,
        min_orders: Annotated[
            int, typer.Option(min=1, help="fewest shared orders for BOUGHT_WITH")
        ] = DEFAULT_MIN_ORDERS,
        as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
        delimiter: Annotated[
            str | None,
            typer.Option(help="field delimiter of a canonical folder's CSVs (default: detect , ; tab |)"),
        ] = None,
        encoding: Annotated[
            str | None, typer.Option(help="text encoding of a canonical folder's CSVs, e.g. cp1252 (default: UTF-8)")
        ] = None,
    ) -> None:
        """Validate SOURCE, write accepted rows to the graph in batches and quarantine the rest."""
        if delimiter is not None:
            delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
            if len(delimiter) != 1:
                raise fail(f"--delimiter must be one character (or 'tab'), got {delimiter!r}")
        from kgrec.ingest.pipeline import ingest_source

        with open_graph(advice=INGEST_ADVICE) as (settings, conn):
            report = ingest_source(
                conn,
                source,
                data_dir=data_dir,
                quarantine_dir=quarantine_dir or settings.state_dir / "quarantine",
                write_batch_size=write_batch_size or settings.write_batch_size,
                copurchase=not no_copurchase,
                min_orders=min_orders,
                progress=not as_json,
                delimiter=delimiter,
                encoding=encoding,
            )
        if as_json:
            typer.echo(json.dumps(report.to_dict(), default=str))
        else:
            print_report(report)

    @sample_app.command("build")
    def sample_build(
        out: Annotated[Path, typer.Option(help="folder to write the canonical sample into")] = SAMPLE_DIR,
        data_dir: Annotated[Path, typer.Option(help="folder holding online-retail/")] = DEFAULT_DATA_DIR,
    ) -> None:
        """Rebuild the demo sample (deterministic) from the UCI Online Retail file."""
        from kgrec.ingest.sample import build_sample

        if not (data_dir / "online-retail").is_dir():
            raise fail(f"{data_dir / 'online-retail'} not found: pass --data-dir")
        with failing_cleanly():
            summary = build_sample(data_dir, out)
        console.print(
            f"wrote {summary.folder}: {summary.customers} customers, {summary.orders:,} orders, "
            f"{summary.order_lines:,} order lines, {summary.products:,} products"
        )

    app.add_typer(sample_app, name="sample")

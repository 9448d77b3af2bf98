"""``kgrec serve``, ``kgrec explain`` and ``kgrec query``: the API server and the graph's questions.

Also :func:`open_serving`, how every command gets the one serving layer (:mod:`kgrec.serving`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from kgrec.cli.common import console, fail, failing_cleanly, newest_checkpoint, open_graph
from kgrec.config import Settings
from kgrec.kg.errors import ModelError

if TYPE_CHECKING:
    from kgrec.kg.connection import GraphConnection
    from kgrec.serving import Serving

log = logging.getLogger(__name__)
# Neo4j warns about properties/types absent from a small graph (e.g. no RATED yet): not news to a user.
logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


def open_serving(settings: Settings, conn: GraphConnection, checkpoint: Path | None, use_model: bool = True) -> Serving:
    """The serving layer over ``conn`` for ``checkpoint`` (default: the newest kgcf run), loaded and
    refreshed from the graph; without any checkpoint (or ``use_model`` false) graph-only answers."""
    from kgrec.serving import Serving

    path = (checkpoint or newest_checkpoint(settings, "kgcf")) if use_model else None
    if path is not None and not path.is_file():
        raise ModelError(f"no checkpoint at {path}: run `kgrec train` or fix --checkpoint")
    serving = Serving(lambda: conn, path, settings.device, seed=settings.seed)
    if path is not None:
        with console.status("loading the model (first time after training: building its serving cache)…"):
            report = serving.load()
        if report.kind == "rebuild":
            console.print(f"[dim]serving cache built in {report.seconds:.1f} s ({report.reason})[/dim]")
    return serving


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json or not rows:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(show_lines=False)
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(v if isinstance(v, str) else json.dumps(v, default=str)) for v in row.values()))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``explain`` and ``query`` to the main app."""

    @app.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="interface to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
        checkpoint: Annotated[
            Path | None,
            typer.Option(help="model checkpoint; default: the newest GNN (kgcf.pt) in the runs folder"),
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(
                help="require `Authorization: Bearer TOKEN` on every route but /health (default: KGREC_API_TOKEN)"
            ),
        ] = None,
        refresh_s: Annotated[
            float, typer.Option(help="seconds between refreshes of the model's view of the graph (0: never)")
        ] = 10.0,
        bundle_gnn: Annotated[
            bool, typer.Option(help="train the bundle GNN at start when the graph has user–bundle interactions")
        ] = True,
        workers: Annotated[
            int,
            typer.Option(
                min=1,
                max=64,
                help="server processes (each holds the model; 2 on a 2-core machine answers twice the requests)",
            ),
        ] = 1,
    ) -> None:
        """Serve the HTTP API and the explorer page (http://HOST:PORT/, API docs at /docs)."""
        import os

        import uvicorn

        from kgrec.api import create_app

        settings = Settings()
        checkpoint = checkpoint or newest_checkpoint(settings, "kgcf")
        if checkpoint is not None and not checkpoint.is_file():
            raise fail(f"no checkpoint at {checkpoint}: run `kgrec train` or fix --checkpoint")
        if host not in ("127.0.0.1", "localhost", "::1") and not (token or settings.api_token):
            console.print(
                f"[yellow]listening on {escape(host)} without --token: anyone who reaches it can use the API[/yellow]"
            )
        console.print(f"model: {checkpoint or 'none (recommendations answer 503 until `kgrec train`)'}")
        console.print(f"explorer on http://{host}:{port}/  ·  API docs on http://{host}:{port}/docs")
        if workers > 1:  # each worker process builds its app from the settings set here
            os.environ.update(
                {"KGREC_SERVE_REFRESH_S": str(refresh_s), "KGREC_SERVE_BUNDLE_GNN": str(bundle_gnn).lower()}
            )
            os.environ.pop("KGREC_SERVE_CHECKPOINT", None)
            if checkpoint is not None:
                os.environ["KGREC_SERVE_CHECKPOINT"] = str(checkpoint.resolve())
            if token is not None:
                os.environ["KGREC_API_TOKEN"] = token
            uvicorn.run("kgrec.api:app_from_settings", factory=True, workers=workers, host=host, port=port,
                        log_level="info")  # fmt: skip
            return
        app = create_app(settings, checkpoint, token=token, refresh_s=refresh_s, warm_bundles=bundle_gnn)
        uvicorn.run(app, host=host, port=port, log_level="info")

    @app.command("explain")
    def explain_cmd(
        user_id: Annotated[str, typer.Argument(help="a User id")],
        product_id: Annotated[str, typer.Argument(help="a Product id")],
        limit: Annotated[int, typer.Option(min=1, help="how many reasons")] = 3,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Why would PRODUCT_ID suit USER_ID? Ranked reasons from graph paths."""
        from dataclasses import asdict

        from kgrec.serving import Serving

        with open_graph() as (_, conn):
            result = Serving(lambda: conn, None).explain(user_id, product_id, limit)
        if as_json:
            typer.echo(json.dumps(asdict(result), indent=2, default=str))
            return
        console.print(f"[bold]{escape(result.product_title or product_id)}[/bold] for user {escape(user_id)}:")
        for n, reason in enumerate(result.reasons, 1):
            path = escape(" → ".join(f"{p.label}:{p.id}" for p in reason.path))
            console.print(f" {n}. {escape(reason.text)}  [dim](strength {reason.strength:.2f}; {path})[/dim]")

    @app.command("query")
    def query_cmd(
        name: Annotated[str | None, typer.Argument(help="a named query (see --list)")] = None,
        param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value (lists: a,b,c)")] = None,
        list_all: Annotated[bool, typer.Option("--list", help="list the named queries")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Run a named Cypher query from queries/*.cypher, read-only."""
        from kgrec.queries.runner import get_query, list_queries, parse_cli_params, run

        if list_all or name is None:
            with failing_cleanly():
                queries = list_queries()
            table = Table(title="named queries")
            for column in ("name", "parameters", "purpose"):
                table.add_column(column)
            for q in queries:
                table.add_row(q.name, escape(q.signature()), escape(q.purpose))
            console.print(table)
            return
        with failing_cleanly():
            params = parse_cli_params(get_query(name), param or [])
        with open_graph() as (_, conn):
            rows = run(conn, name, **params)
        _print_rows(rows, as_json)

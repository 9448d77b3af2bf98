"""``kgrec serve``, ``kgrec explain`` and ``kgrec query``: the API server and the graph's questions.

Also the wiring of the real model objects into the API (``make_providers``): a checkpoint becomes
a ``gnn.recommender.Recommender`` over the live graph, and ``gnn.bundles`` becomes a BundlesLike
(graph-only without a checkpoint, fused with the GNN's co-purchase head with one).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from kgrec.cli.common import console, fail, failing_cleanly, newest_checkpoint, open_graph
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError

log = logging.getLogger(__name__)
# Neo4j warns about properties/types absent from a small graph (e.g. no RATED yet): not news to a user.
logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)


class BundleService:
    """``gnn.bundles`` as the API's BundlesLike, over one connection and an optional product scorer."""

    def __init__(self, conn: GraphConnection, recommender: Any | None = None) -> None:
        self.conn = conn
        self.recommender = recommender

    def _model(self) -> Any | None:
        if self.recommender is None or getattr(self.recommender, "snapshot", None) is None:
            return None
        from kgrec.gnn.bundles import ModelLink

        return ModelLink(self.recommender.model, self.recommender.snapshot.index["product"])

    def complete_basket(self, product_ids: Sequence[str], k: int = 10, max_price: float | None = None,
                        category: str | None = None) -> Any:  # fmt: skip
        from kgrec.gnn.bundles import complete_basket

        return complete_basket(self.conn, product_ids, k, max_price=max_price, category=category, model=self._model())

    def recommend_bundles(self, user_id: str, k: int = 5) -> Any:
        from kgrec.gnn.bundle_recs import recommend_bundles

        return recommend_bundles(self.conn, user_id, k)

    def compose_bundle(self, user_id: str, anchor_product_id: str | None = None, size: int = 3,
                       budget: float | None = None) -> Any:  # fmt: skip
        from kgrec.gnn.bundles import compose_bundle

        return compose_bundle(
            self.conn, user_id, anchor_product=anchor_product_id, size=size, budget=budget, model=self._model()
        )


def make_providers(
    settings: Settings, checkpoint: Path | None
) -> tuple[Callable[[GraphConnection], Any] | None, Callable[[GraphConnection], Any]]:
    """(recommender provider or None without a checkpoint, bundles provider); one shared Recommender."""
    lock = threading.Lock()
    loaded: dict[str, Any] = {}

    def recommender(conn: GraphConnection) -> Any:
        with lock:
            if "model" not in loaded:
                from kgrec.gnn.recommender import Recommender

                loaded["model"] = Recommender.load(checkpoint, settings.device).refresh(conn)  # type: ignore[arg-type]
            return loaded["model"]

    def bundles(conn: GraphConnection) -> BundleService:
        model = None
        if checkpoint is not None:
            try:
                model = recommender(conn)
            except KgrecError as exc:  # bundles still work from the graph alone
                log.warning("bundles without the GNN: %s", exc)
        return BundleService(conn, model)

    return (recommender if checkpoint is not None else None), bundles


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
        host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
        checkpoint: Annotated[
            Path | None,
            typer.Option(help="model checkpoint; default: the newest GNN (kgcf.pt) in the runs folder"),
        ] = None,
    ) -> None:
        """Serve the HTTP API and the explorer page (http://HOST:PORT/, API docs at /docs)."""
        import uvicorn

        from kgrec.api import create_app

        settings = Settings()
        checkpoint = checkpoint or newest_checkpoint(settings, "kgcf")
        if checkpoint is not None and not checkpoint.is_file():
            raise fail(f"no checkpoint at {checkpoint}: run `kgrec train` or fix --checkpoint")
        recommender, bundles = make_providers(settings, checkpoint)
        console.print(f"model: {checkpoint or 'none (recommendations answer 503 until `kgrec train`)'}")
        console.print(f"explorer on http://{host}:{port}/  ·  API docs on http://{host}:{port}/docs")
        app = create_app(settings, recommender, bundles, preload=checkpoint is not None)
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

        from kgrec.queries.explain import explain

        with open_graph() as (_, conn):
            result = explain(conn, user_id, product_id, limit)
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

"""``kgrec db start|stop|status`` and ``kgrec stats``: the local server and a graph summary."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError
from kgrec.kg.schema import Label, Rel, ensure_schema

db_app = typer.Typer(help="Start, stop and inspect the project's own Neo4j server.", no_args_is_help=True)
console = Console()


def fail(error: KgrecError) -> typer.Exit:
    """Print a kgrec error in red and return the exit to raise."""
    console.print(f"[red]error:[/red] {error}")
    return typer.Exit(code=1)


@db_app.command("start")
def db_start() -> None:
    """Start the local Neo4j (or reuse the running one) and create the schema."""
    settings = Settings()
    if not settings.uses_local_server():
        console.print(f"KGREC_NEO4J_URI is set ({settings.neo4j_uri}): nothing to start.")
        return
    try:
        with console.status("starting Neo4j (first start downloads it with Maven)…"):
            status = settings.local_server().start()
        with GraphConnection(settings.credentials()) as conn:
            ensure_schema(conn)
    except KgrecError as error:
        raise fail(error) from error
    console.print(f"Neo4j runs (pid {status.pid}) at {status.bolt_uri}; browser {status.browser_url}")
    console.print(f"user neo4j, password in {settings.local_server().password_file}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j cleanly."""
    stopped = Settings().local_server().stop()
    console.print("Neo4j stopped." if stopped else "No local Neo4j was running.")


@db_app.command("status")
def db_status() -> None:
    """Say whether the local Neo4j runs and where."""
    status = Settings().local_server().status()
    if status.running:
        console.print(f"running (pid {status.pid}) at {status.bolt_uri}; browser {status.browser_url}")
    else:
        console.print(f"not running (state folder {status.state_dir})")
        raise typer.Exit(code=3)


def graph_counts(conn: GraphConnection) -> tuple[dict[str, int], dict[str, int]]:
    """Node counts per label and relationship counts per type, from the fixed schema."""
    nodes = {label.value: conn.count(f"MATCH (n:{label.value}) RETURN count(n) AS n") for label in Label}
    rels = {rel.value: conn.count(f"MATCH ()-[r:{rel.value}]->() RETURN count(r) AS n") for rel in Rel}
    return nodes, rels


def print_counts(nodes: dict[str, int], rels: dict[str, int]) -> None:
    table = Table(title="knowledge graph")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("count", justify="right")
    for name, n in nodes.items():
        table.add_row("node", name, f"{n:,}")
    for name, n in rels.items():
        table.add_row("relationship", name, f"{n:,}")
    console.print(table)


def register_graph_commands(app: typer.Typer) -> None:
    @app.command("stats")
    def stats(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
    ) -> None:
        """Count nodes and relationships per label and type."""
        import json

        try:
            with GraphConnection(Settings().credentials()) as conn:
                nodes, rels = graph_counts(conn)
        except KgrecError as error:
            raise fail(error) from error
        if as_json:
            typer.echo(json.dumps({"nodes": nodes, "relationships": rels}))
        else:
            print_counts(nodes, rels)

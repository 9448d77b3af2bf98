"""``kgrec db start|stop|status`` and ``kgrec stats``: the local server and a graph summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kgrec.cli.common import console, failing_cleanly, load_driver_without_data_libraries, open_graph
from kgrec.config import Settings
from kgrec.kg.local_server import DB_DIR

if TYPE_CHECKING:  # the driver loads only in the commands that talk to the graph
    from kgrec.kg.connection import GraphConnection

db_app = typer.Typer(help="Start, stop and inspect the project's own Neo4j server.", no_args_is_help=True)


@db_app.command("start")
def db_start() -> None:
    """Start the local Neo4j (or reuse the running one) and create the schema."""
    from kgrec.kg.connection import GraphConnection
    from kgrec.kg.schema import ensure_schema

    settings = Settings()
    if not settings.uses_local_server():
        console.print(f"KGREC_NEO4J_URI is set ({settings.neo4j_uri}): nothing to start.")
        return
    with failing_cleanly():
        with console.status("starting Neo4j (first start downloads it with Maven)…"):
            status = settings.local_server().start()
        with GraphConnection(settings.credentials()) as conn:
            ensure_schema(conn)
    console.print(f"Neo4j runs (pid {status.pid}) at {status.bolt_uri}; browser {status.browser_url}")
    console.print(f"user neo4j, password in {settings.local_server().password_file}")
    for line in browser_hints():
        console.print(line)


def browser_hints(browser_dir: Path = DB_DIR / "browser") -> list[str]:
    """Where the Neo4j Browser style sheet and saved queries are (none when the checkout lacks them)."""
    grass, favorites = browser_dir / "kgrec.grass", browser_dir / "favorites"
    if not grass.is_file() or not favorites.is_dir():
        return []
    return [
        f"Neo4j Browser style: drag {grass} onto the browser window",
        f"saved queries: drag the .cypher files of {favorites} onto its Favorites (star) drawer; "
        'run the favorite "kgrec 0 · pick a customer" first (docs/explorer.md)',
    ]


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j cleanly."""
    stopped = Settings().local_server().stop()
    console.print("Neo4j stopped." if stopped else "No local Neo4j was running.")


@db_app.command("status")
def db_status() -> None:
    """Say whether the local Neo4j runs and where."""
    load_driver_without_data_libraries()  # probing Bolt needs the driver, not pandas
    status = Settings().local_server().status()
    if status.running:
        console.print(f"running (pid {status.pid}) at {status.bolt_uri}; browser {status.browser_url}")
    else:
        console.print(f"not running (state folder {status.state_dir})")
        raise typer.Exit(code=3)


def graph_counts(conn: GraphConnection) -> tuple[dict[str, int], dict[str, int]]:
    """Node counts per label and relationship counts per type (the named query graph_overview)."""
    from kgrec.queries.runner import run_one

    row = run_one(conn, "graph_overview") or {"nodes": {}, "relationships": {}}
    return row["nodes"], row["relationships"]


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
        """Count nodes and relationships, and say which tasks and splits the orders support."""
        import json
        from dataclasses import asdict

        load_driver_without_data_libraries()  # counts only: no data frames cross the driver
        from kgrec.gnn.shop_profile import ShopProfile
        from kgrec.queries.runner import run_one

        with open_graph() as (_, conn):
            nodes, rels = graph_counts(conn)
            row = run_one(conn, "shop_profile")
        profile = ShopProfile.from_row(row) if row else ShopProfile(0, 0, 0, 0, 0, 0, 0.0)
        if as_json:
            typer.echo(json.dumps({"nodes": nodes, "relationships": rels, "shop": asdict(profile)}))
            return
        print_counts(nodes, rels)
        console.print(
            f"{profile.products_without_text:,} of {profile.products:,} products have no text vector yet "
            "(run `kgrec embed`)"
            if profile.products_without_text
            else f"all {profile.products:,} products have text vectors"
        )
        for line in profile.advice():
            console.print(f"- {line}")

"""The ``kgrec`` command line: thin commands that call the packages below."""

from __future__ import annotations

import typer

from kgrec.cli.db import db_app, register_graph_commands

app = typer.Typer(help="kgrec: knowledge-graph product and bundle recommendations on Neo4j.", no_args_is_help=True)
app.add_typer(db_app, name="db")
register_graph_commands(app)

from kgrec.cli import bundles, demo, ingest, model, serve  # noqa: E402

for family in (demo, ingest, model, bundles, serve):
    family.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

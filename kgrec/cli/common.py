"""The one helper module of the command line: console, failure, settings and graph connections.

Every command family (``db``, ``ingest``, ``model``, ``bundles``, ``serve``, ``demo``) uses these
instead of its own copy::

    from kgrec.cli.common import console, fail, open_graph

    with open_graph() as (settings, conn):
        ...  # a KgrecError raised in here prints one red line and exits with code 1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError

console = Console()


def fail(error: BaseException | str, code: int = 1) -> typer.Exit:
    """Print ``error: <message>`` in red (markup escaped) and return the exit to raise.

    Usage: ``raise fail(error) from error`` or ``raise fail("no such folder: pass --data-dir")``.
    """
    console.print(f"[red]error:[/red] {escape(str(error))}")
    return typer.Exit(code=code)


@contextmanager
def failing_cleanly() -> Iterator[None]:
    """Turn a ``KgrecError`` raised inside the block into :func:`fail` (exit code 1)."""
    try:
        yield
    except KgrecError as error:
        raise fail(error) from error


@contextmanager
def open_graph(settings: Settings | None = None) -> Iterator[tuple[Settings, GraphConnection]]:
    """``(settings, connected GraphConnection)`` for the configured server, closed on exit.

    Any ``KgrecError`` inside the block (no server, bad password, unknown id) becomes :func:`fail`.
    """
    settings = settings or Settings()
    with failing_cleanly(), GraphConnection(settings.credentials()) as conn:
        yield settings, conn


def newest_checkpoint(settings: Settings, kind: str | None = None) -> Path | None:
    """The newest checkpoint under the runs folder (``kind``: file stem such as ``hetero_sage``)."""
    if not settings.runs_dir.is_dir():
        return None
    pattern = f"**/{kind}.pt" if kind else "**/*.pt"
    found = sorted(settings.runs_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None

"""kgrec CLI: ingest commands (filled in by its package owner)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""


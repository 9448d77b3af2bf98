"""The one helper module of the command line: console, failure, settings and graph connections.

Every command family (``db``, ``ingest``, ``model``, ``bundles``, ``serve``, ``demo``) uses these
instead of its own copy::

    from kgrec.cli.common import console, fail, open_graph

    with open_graph() as (settings, conn):
        ...  # a KgrecError raised in here prints one red line and exits with code 1
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from kgrec.config import Settings
from kgrec.kg.errors import ConnectionLostError, KgrecError, Neo4jUnavailableError

if TYPE_CHECKING:  # the driver (and pandas under it) loads only in commands that open the graph
    from kgrec.gnn.train import TrainResult
    from kgrec.kg.connection import GraphConnection

#: What to do when the server goes away mid-command; commands that can be safely re-run say so.
RERUN_ADVICE = "restart it with `kgrec db start` (`kgrec db status` shows it), then run the same command again"

console = Console()


def fail(error: BaseException | str, code: int = 1) -> typer.Exit:
    """Print ``error: <message>`` in red (markup escaped) on one line and return the exit to raise.

    Usage: ``raise fail(error) from error`` or ``raise fail("no such folder: pass --data-dir")``.
    """
    message = " ".join(str(error).split())  # one line, whatever the message or the terminal width
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=code)


def as_kgrec_error(error: BaseException, advice: str = RERUN_ADVICE) -> KgrecError | None:
    """The ``KgrecError`` a user should read for a driver or file error (None: not one of those).

    Driver errors that mean the server went away (killed, restarted, unreachable) become a
    ``ConnectionLostError`` with ``advice``; other server errors a ``Neo4jUnavailableError`` naming
    the server's code; file-system errors say which path failed.
    """
    if isinstance(error, KgrecError):
        return error
    driver_error = _driver_error(error, advice)
    if driver_error is not None:
        return driver_error
    if isinstance(error, ValidationError):
        return KgrecError(f"invalid setting ({_short(error)}): fix the KGREC_* environment variable or .kgrec.env")
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return KgrecError(f"cannot access{where}: {error.strerror or error}; check the path, permissions and free disk")
    return None


def _driver_error(error: BaseException, advice: str) -> KgrecError | None:
    """The ``KgrecError`` for a neo4j driver error; None when ``error`` is not one.

    A command that never imported the driver cannot raise its errors, so the driver is not
    imported here just to test for them (that would cost every command the driver's start-up).
    """
    if "neo4j.exceptions" not in sys.modules:
        return None
    from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired

    if isinstance(error, (ServiceUnavailable, SessionExpired)):
        return ConnectionLostError(f"The Neo4j server stopped answering ({_short(error)}): {advice}")
    if isinstance(error, Neo4jError):
        code = error.code or type(error).__name__
        return Neo4jUnavailableError(
            f"Neo4j refused the operation ({code}: {_short(error)}); check `kgrec db status` and the server log, then retry"
        )
    if isinstance(error, DriverError):
        return Neo4jUnavailableError(f"The Neo4j driver failed ({_short(error)}): {advice}")
    return None


def _short(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def failing_cleanly(advice: str = RERUN_ADVICE) -> Iterator[None]:
    """Turn a ``KgrecError``, a Neo4j driver error or a file error inside the block into :func:`fail` (exit 1).

    ``advice``: what to do when the server went away (e.g. ingest: re-run, it is idempotent). Ctrl-C
    exits with code 130 and one line; any other exception is a bug and stays a traceback.
    """
    try:
        yield
    except KeyboardInterrupt as interrupt:
        raise fail("interrupted", code=130) from interrupt
    except Exception as error:
        mapped = as_kgrec_error(error, advice)
        if mapped is None:  # a bug: keep its traceback
            raise
        raise fail(mapped) from error


#: What the neo4j driver imports when installed, only to accept and return their values (no kgrec
#: command that counts or checks needs them; they are half of such a command's start-up).
DRIVER_OPTIONAL_LIBRARIES = ("pandas", "numpy")


def load_driver_without_data_libraries() -> None:
    """Import the neo4j driver without its optional pandas/numpy support (the driver's own switch:
    it imports them only if it can).

    For commands that send and read plain values only (``db status``, ``stats``); a library hidden
    here can still be imported afterwards, the driver just will not convert its values. Does nothing
    when the driver is already loaded.
    """
    if "neo4j" in sys.modules:
        return
    hidden = [name for name in DRIVER_OPTIONAL_LIBRARIES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` now raises ImportError
    try:
        import neo4j  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


@contextmanager
def open_graph(
    settings: Settings | None = None, advice: str = RERUN_ADVICE
) -> Iterator[tuple[Settings, GraphConnection]]:
    """``(settings, connected GraphConnection)`` for the configured server, closed on exit.

    Any ``KgrecError``, driver or file error inside the block (no server, bad password, unknown id,
    server killed mid-command) becomes :func:`fail` with one line; ``advice`` as in :func:`failing_cleanly`.
    """
    from kgrec.kg.connection import GraphConnection

    with failing_cleanly(advice):
        settings = settings or Settings()
        with GraphConnection(settings.credentials()) as conn:
            yield settings, conn


def run_summary(result: TrainResult) -> str:
    """One line on how the checkpoint was chosen: fusion weights (chosen or kept, and why) and the refit."""
    parts = []
    fusion = result.fusion
    if fusion:
        weights = f"EASE {fusion['fuse_weight']:g}, trend {fusion['trend_weight']:g}"
        kept = fusion.get("kept_defaults")
        parts.append(f"fusion {weights} (" + (f"defaults kept: {kept}" if kept else "chosen on validation") + ")")
    if result.refit_epochs:
        parts.append(f"refitted on train + validation for {result.refit_epochs} epochs ({result.refit_seconds:.0f} s)")
    else:
        parts.append("not refitted: the checkpoint is the selection run")
    return "; ".join(parts)


def newest_checkpoint(settings: Settings, kind: str | None = None) -> Path | None:
    """The newest checkpoint under the runs folder (``kind``: file stem such as ``hetero_sage``)."""
    if not settings.runs_dir.is_dir():
        return None
    pattern = f"**/{kind}.pt" if kind else "**/*.pt"
    found = sorted(settings.runs_dir.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None

"""The CLI starts light: the driver, pandas and the learning stack load only in the commands that use them.

``kgrec --help`` and ``kgrec db status`` (no server running) must not import any of them; that is
what keeps them well under the 1.5 s start-up target (measured in ``bench/cli_start.py``, not here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

#: Modules that cost the CLI's start-up most (neo4j pulls pandas and numpy in with it).
HEAVY = ("torch", "torch_geometric", "sentence_transformers", "neo4j", "pandas", "scipy", "fastapi", "uvicorn")


def _loaded_after(args: list[str] | None, env: dict[str, str] | None = None) -> tuple[list[str], int]:
    """Heavy modules loaded, and the exit code, after importing the console script's module
    (``kgrec = kgrec.cli:app``) and, with ``args``, running the app on them in the same process."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from kgrec.cli import app
        code = 0
        if {args!r} is not None:
            try:
                app({args!r})
            except SystemExit as exit_:
                code = exit_.code or 0
        print(json.dumps([sorted(m for m in {HEAVY!r} if m in sys.modules), code]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    loaded, code = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded, code


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded_after(None) == ([], 0)


def test_help_loads_no_heavy_library() -> None:
    assert _loaded_after(["--help"]) == ([], 0)


def test_every_command_help_loads_no_heavy_library() -> None:
    for command in (["ingest", "--help"], ["train", "--help"], ["serve", "--help"], ["bundles", "--help"]):
        assert _loaded_after(command) == ([], 0), command


def test_db_status_of_a_stopped_server_loads_no_heavy_library(tmp_path: Path) -> None:
    env = {**os.environ, "KGREC_STATE_DIR": str(tmp_path), "KGREC_BOLT_PORT": "9", "KGREC_HTTP_PORT": "9"}
    env.pop("KGREC_NEO4J_URI", None)
    loaded, code = _loaded_after(["db", "status"], env)
    assert (loaded, code) == ([], 3)  # exit 3: "not running"


def test_python_dash_m_kgrec_is_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "kgrec", "--help"], capture_output=True, text=True, check=True)
    assert "ingest" in done.stdout and "db" in done.stdout

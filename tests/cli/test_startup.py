"""The CLI starts light: the driver, pandas and the learning stack load only in the commands that use them.

``kgrec --help`` (and every command family's ``--help``) imports none of them; ``kgrec db status``
and ``kgrec stats`` import the driver (to probe Bolt, to count) but not pandas or numpy. That keeps
them under the 1.5 s start-up target (timed by ``bench/cli_start.py``, not here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kgrec.config import Settings
from kgrec.kg.credentials import Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j

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


def test_db_status_of_a_stopped_server_loads_the_driver_but_no_data_library(tmp_path: Path) -> None:
    env = {**os.environ, "KGREC_STATE_DIR": str(tmp_path), "KGREC_BOLT_PORT": "9", "KGREC_HTTP_PORT": "9"}
    env.pop("KGREC_NEO4J_URI", None)
    loaded, code = _loaded_after(["db", "status"], env)
    assert (loaded, code) == (["neo4j"], 3)  # exit 3: "not running"


def test_python_dash_m_kgrec_is_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "kgrec", "--help"], capture_output=True, text=True, check=True)
    assert "ingest" in done.stdout and "db" in done.stdout


def test_stats_against_a_server_loads_the_driver_but_no_data_library(
    test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "KGREC_NEO4J_URI": test_credentials.uri,
        "KGREC_NEO4J_PASSWORD": test_credentials.password,
        "KGREC_STATE_DIR": str(tmp_path),
    }
    assert _loaded_after(["stats", "--json"], env) == (["neo4j"], 0)


def test_db_status_of_a_running_server_loads_the_driver_but_no_data_library(
    test_settings: Settings, test_server: LocalNeo4j, tmp_path: Path
) -> None:
    if test_settings.test_neo4j_uri:
        pytest.skip("the test server is an external one: no local state folder to point at")
    (tmp_path / "neo4j").symlink_to(test_server.state)  # Settings.server_dir is <state_dir>/neo4j
    env = {
        **os.environ,
        "KGREC_STATE_DIR": str(tmp_path),
        "KGREC_BOLT_PORT": str(test_settings.test_bolt_port),
        "KGREC_HTTP_PORT": str(test_settings.test_http_port),
    }
    env.pop("KGREC_NEO4J_URI", None)
    assert _loaded_after(["db", "status"], env) == (["neo4j"], 0)


def test_pandas_and_numpy_still_load_after_the_lean_driver() -> None:
    script = textwrap.dedent(
        """
        from kgrec.cli.common import load_driver_without_data_libraries
        load_driver_without_data_libraries()
        import numpy, pandas
        from neo4j import _optional_deps
        print(pandas.DataFrame({"a": numpy.arange(3)})["a"].sum(), _optional_deps.pd is None)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["3", "True"]

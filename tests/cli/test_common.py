"""The CLI's one helper module and the settings it hands to every command (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.cli.common import fail, failing_cleanly, open_graph
from kgrec.config import Settings
from kgrec.kg.errors import KgrecError

runner = CliRunner()


def test_fail_prints_one_escaped_sentence_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = fail(KgrecError("no [bold]server[/bold] at bolt://x"))
    assert isinstance(exit_, typer.Exit) and exit_.exit_code == 1
    assert capsys.readouterr().out.strip() == "error: no [bold]server[/bold] at bolt://x"


def test_failing_cleanly_turns_kgrec_errors_into_exits_and_lets_others_through() -> None:
    with pytest.raises(typer.Exit), failing_cleanly():
        raise KgrecError("bad id")
    with pytest.raises(ValueError), failing_cleanly():
        raise ValueError("a bug stays a bug")


def test_open_graph_without_a_server_fails_with_the_fix(tmp_path: Path) -> None:
    settings = Settings(neo4j_uri="bolt://127.0.0.1:9", state_dir=tmp_path)
    with pytest.raises(typer.Exit) as raised, open_graph(settings):
        pass
    assert raised.value.exit_code == 1


def test_a_command_reports_the_missing_server_in_one_line(tmp_path: Path) -> None:
    env = {"KGREC_NEO4J_URI": "bolt://127.0.0.1:9", "KGREC_STATE_DIR": str(tmp_path), "COLUMNS": "300"}
    result = runner.invoke(app, ["stats"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("error: No Neo4j answers at bolt://127.0.0.1:9: run `kgrec db start`")


def test_settings_give_each_server_its_own_ports_and_folder(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    servers = [settings.local_server(), settings.test_server(), settings.bench_server()]
    ports = [(s.config.bolt_port, s.config.http_port) for s in servers]
    assert len({p for pair in ports for p in pair}) == 6
    assert len({s.state for s in servers}) == 3


def test_settings_read_the_write_batch_size_under_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGREC_BATCH_SIZE", "123")
    assert Settings().write_batch_size == 123
    monkeypatch.setenv("KGREC_WRITE_BATCH_SIZE", "77")
    assert Settings().write_batch_size == 77
    monkeypatch.setenv("KGREC_TEST_BOLT_PORT", "7999")
    assert Settings().test_server().config.bolt_port == 7999

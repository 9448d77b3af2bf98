"""No traceback reaches a user: every graph command against a stopped server prints one line of advice
and exits with code 1; the local server listens on loopback only with a 0600 password file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError
from typer.testing import CliRunner

from kgrec.cli import app
from kgrec.cli.common import as_kgrec_error, failing_cleanly
from kgrec.kg.errors import ConnectionLostError, KgrecError
from kgrec.kg.local_server import LocalNeo4j

runner = CliRunner()

#: Every command that talks to the graph (serve, demo and db start/stop manage servers themselves).
GRAPH_COMMANDS = [
    ["stats"],
    ["ingest", "sample"],
    ["embed"],
    ["train", "--epochs", "1"],
    ["evaluate"],
    ["recommend", "17288"],
    ["recommend", "--basket", "22423,84879"],
    ["similar", "22423"],
    ["similar", "red heart candle", "--text"],
    ["explain", "17288", "22423"],
    ["query", "bought_with", "-p", "product_id=22423"],
    ["basket", "complete", "22423", "84879"],
    ["bundles", "recommend", "17288"],
    ["bundles", "compose", "17288"],
    ["bundles", "mine"],
]


@pytest.mark.parametrize("args", GRAPH_COMMANDS, ids=[" ".join(a) for a in GRAPH_COMMANDS])
def test_each_command_against_a_stopped_server_prints_one_line_and_exits_1(args: list[str], tmp_path: Path) -> None:
    env = {"KGREC_NEO4J_URI": "bolt://127.0.0.1:9", "KGREC_STATE_DIR": str(tmp_path), "COLUMNS": "80"}
    result = runner.invoke(app, args, env=env)
    assert isinstance(result.exception, SystemExit), f"uncaught {result.exception!r}"
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    assert "kgrec db start" in lines[0] or "kgrec train" in lines[0], lines[0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ServiceUnavailable("connection refused"), "kgrec db start"),
        (SessionExpired("gone"), "run the same command again"),
        (TransientError("deadlock"), "refused the operation"),
        (PermissionError(13, "Permission denied", "/x/y.csv"), "cannot access /x/y.csv"),
    ],
)
def test_driver_and_file_errors_become_one_kgrec_error_with_a_fix(error: Exception, expected: str) -> None:
    mapped = as_kgrec_error(error)
    assert isinstance(mapped, KgrecError) and expected in str(mapped)
    assert isinstance(as_kgrec_error(SessionExpired("x")), ConnectionLostError)
    assert as_kgrec_error(ValueError("a bug")) is None


def test_ctrl_c_is_one_line_with_exit_130() -> None:
    import typer

    with pytest.raises(typer.Exit) as raised, failing_cleanly():
        raise KeyboardInterrupt
    assert raised.value.exit_code == 130


def test_local_server_listens_on_loopback_with_a_private_password(test_server: LocalNeo4j) -> None:
    status = test_server.status()
    if status.pid is None:
        pytest.skip("the test server is an external one")
    mode = stat.S_IMODE(test_server.password_file.stat().st_mode)
    assert mode == 0o600
    conf = (test_server.state / "conf" / "neo4j.conf").read_text()
    assert "server.default_listen_address=127.0.0.1" in conf
    listening = _listening_addresses(test_server.config.bolt_port) | _listening_addresses(test_server.config.http_port)
    if not listening:
        pytest.skip("/proc/net/tcp not readable here")
    assert listening == {"127.0.0.1"}, listening


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4/IPv6 addresses in LISTEN state on ``port`` (from /proc/net/tcp*)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            if len(address) == 8:
                found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
            elif address == "00000000000000000000000000000000":
                found.add("::")
            elif address.endswith("0100007F") or address == "00000000000000000000000001000000":
                found.add("127.0.0.1" if address.endswith("0100007F") else "::1")
            else:
                found.add(address)
    return found

"""Start, reuse and stop the project's own Neo4j 5 community server.

The server's jars are resolved from Maven Central by ``db/pom.xml`` (``mvn
dependency:copy-dependencies``) and launched as ``org.neo4j.server.CommunityEntryPoint`` in its own
process group, bound to 127.0.0.1. Each server lives in a state folder::

    <state>/conf/neo4j.conf   generated settings
    <state>/data, logs        the database and its logs
    <state>/password          a generated password (mode 0600), set before the first start
    <state>/neo4j.pid         the server's pid while it runs
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from kgrec.kg.credentials import Neo4jCredentials
from kgrec.kg.errors import Neo4jUnavailableError

ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
DB_DIR = Path(__file__).resolve().parent.parent / "db"


def new_password() -> str:
    """A random 192-bit password for the local server, in hex: ``token_urlsafe`` may start with ``-``,
    which ``neo4j-admin`` reads as an option (one fresh server in 64 failed to start that way)."""
    return secrets.token_hex(24)


@dataclass(frozen=True)
class ServerConfig:
    """Where a local server keeps its files and which loopback ports it listens on.

    The ports have no default here: they come from ``kgrec.config.Settings`` (one pair per server:
    main, test, bench), so two servers never meet on a port by accident.
    """

    state_dir: Path
    bolt_port: int
    http_port: int
    heap: str = "1g"
    pagecache: str = "512m"
    lib_dir: Path | None = None  # defaults to db/target/lib beside db/pom.xml
    start_timeout_s: float = 180.0

    @property
    def jars(self) -> Path:
        return self.lib_dir or DB_DIR / "target" / "lib"


@dataclass(frozen=True)
class ServerStatus:
    """Whether the server runs, where, and since which process."""

    running: bool
    pid: int | None
    bolt_uri: str
    browser_url: str | None
    state_dir: Path


class LocalNeo4j:
    """Control of one local server; nothing happens until a method is called."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.state = config.state_dir.resolve()

    # -- paths --------------------------------------------------------------------------------
    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.config.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}/browser/"

    @property
    def password_file(self) -> Path:
        return self.state / "password"

    @property
    def pid_file(self) -> Path:
        return self.state / "neo4j.pid"

    @property
    def log_file(self) -> Path:
        return self.state / "logs" / "console.log"

    def credentials(self) -> Neo4jCredentials:
        """Credentials of this server (its password is created on first start)."""
        if not self.password_file.exists():
            raise Neo4jUnavailableError(f"No local server has been set up in {self.state}: run `kgrec db start` first")
        return Neo4jCredentials(uri=self.bolt_uri, user="neo4j", password=self.password_file.read_text().strip())

    # -- life cycle ---------------------------------------------------------------------------
    def resolve_jars(self) -> Path:
        """Download the Neo4j jars with Maven once; later calls reuse them."""
        jars = self.config.jars
        if jars.is_dir() and any(jars.glob("neo4j-5*.jar")):
            return jars
        mvn = shutil.which("mvn")
        if mvn is None:
            raise Neo4jUnavailableError("Maven (`mvn`) is needed to fetch Neo4j: install Maven and Java 17+")
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(DB_DIR / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={jars}",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise Neo4jUnavailableError(
                "Maven could not fetch Neo4j from Maven Central:\n" + (result.stdout + result.stderr)[-2000:]
            )
        return jars

    def status(self) -> ServerStatus:
        pid = self._live_pid()
        running = pid is not None and self._bolt_answers()
        return ServerStatus(running, pid, self.bolt_uri, self.browser_url if running else None, self.state)

    def start(self) -> ServerStatus:
        """Start the server (or reuse the running one) and wait until Bolt answers."""
        if self._live_pid() is not None and self._wait_for_bolt(timeout_s=30):
            return self.status()
        java = _java_binary()
        jars = self.resolve_jars()
        self._write_config()
        self._ensure_password(java, jars)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [
                    java,
                    f"-Xms{self.config.heap}",
                    f"-Xmx{self.config.heap}",
                    "-XX:+UseG1GC",
                    "-cp",
                    f"{jars}/*",
                    ENTRY_POINT,
                    f"--home-dir={self.state}",
                    f"--config-dir={self.state / 'conf'}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.state,
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise Neo4jUnavailableError(
                    f"Neo4j exited with code {process.returncode} while starting; "
                    f"see {self.log_file}:\n{_tail(self.log_file)}"
                )
            if self._bolt_answers():
                return self.status()
            time.sleep(1.0)
        raise Neo4jUnavailableError(
            f"Neo4j did not answer on {self.bolt_uri} within {self.config.start_timeout_s:.0f}s; "
            f"see {self.log_file}:\n{_tail(self.log_file)}"
        )

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the server cleanly (SIGTERM, then SIGKILL after ``timeout_s``); False if none ran."""
        pid = self._live_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.5)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    # -- helpers ------------------------------------------------------------------------------
    def _live_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _bolt_answers(self) -> bool:
        from kgrec.kg.connection import GraphConnection  # the driver loads only when a server is probed

        try:
            with GraphConnection(self.credentials()):
                return True
        except Neo4jUnavailableError:
            return False

    def _wait_for_bolt(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._bolt_answers():
                return True
            time.sleep(1.0)
        return False

    def _write_config(self) -> None:
        conf = self.state / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        for folder in ("data", "logs", "import", "plugins"):
            (self.state / folder).mkdir(parents=True, exist_ok=True)
        settings = {
            "server.default_listen_address": "127.0.0.1",
            "server.default_advertised_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.config.bolt_port}",
            "server.bolt.advertised_address": f"127.0.0.1:{self.config.bolt_port}",
            "server.http.enabled": "true",
            "server.http.listen_address": f"127.0.0.1:{self.config.http_port}",
            "server.http.advertised_address": f"127.0.0.1:{self.config.http_port}",
            "server.https.enabled": "false",
            "server.directories.data": str(self.state / "data"),
            "server.directories.logs": str(self.state / "logs"),
            "server.directories.import": str(self.state / "import"),
            "server.directories.plugins": str(self.state / "plugins"),
            "server.memory.pagecache.size": self.config.pagecache,
            "dbms.security.auth_enabled": "true",
            "db.tx_log.rotation.retention_policy": "1 files",
            "dbms.usage_report.enabled": "false",
        }
        (conf / "neo4j.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))

    def _ensure_password(self, java: str, jars: Path) -> None:
        """Generate and set the initial password once, before the database first starts."""
        if self.password_file.exists():
            return
        password = new_password()
        env = {**os.environ, "NEO4J_HOME": str(self.state), "NEO4J_CONF": str(self.state / "conf")}
        result = subprocess.run(
            [java, "-cp", f"{jars}/*", ADMIN_TOOL, "dbms", "set-initial-password", password],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.state,
        )
        if result.returncode != 0:
            raise Neo4jUnavailableError(f"Could not set Neo4j's initial password:\n{result.stderr[-2000:]}")
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return True


def _java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    if java is None:
        raise Neo4jUnavailableError("Java 17 or 21 is needed to run Neo4j 5: install a JDK or set JAVA_HOME")
    return java


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

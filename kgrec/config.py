"""The one typed settings object: ``KGREC_*`` environment variables, then a file, then CLI flags.

No other module reads ``os.environ``; everything that needs a setting receives it from here. The
Neo4j ports live only here: one pair per server, so the demo graph, the test graph and the
benchmark graph never share a server (community edition holds one user database)::

    main   KGREC_BOLT_PORT / KGREC_HTTP_PORT             7687 / 7474   <state_dir>/neo4j
    tests  KGREC_TEST_BOLT_PORT / KGREC_TEST_HTTP_PORT   7688 / 7475   <state_dir>/test-neo4j
    bench  KGREC_BENCH_BOLT_PORT / KGREC_BENCH_HTTP_PORT 7689 / 7476   <state_dir>/bench-neo4j
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kgrec.kg.credentials import Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j, ServerConfig


class Settings(BaseSettings):
    """Every knob of kgrec. Set ``KGREC_<NAME>`` (e.g. ``KGREC_NEO4J_URI``) or pass flags."""

    model_config = SettingsConfigDict(env_prefix="KGREC_", env_file=".kgrec.env", extra="ignore")

    state_dir: Path = Field(Path(".kgrec"), description="where the local servers, runs and caches live")
    # -- the main server (the user's graph) -----------------------------------------------------
    neo4j_uri: str | None = Field(None, description="an existing server; unset = the local one")
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str = "neo4j"
    bolt_port: int = Field(7687, description="Bolt port of the local main server")
    http_port: int = Field(7474, description="HTTP (Browser) port of the local main server")
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "512m"
    # -- the test server (emptied by tests; never the main one) ---------------------------------
    test_state_dir: Path | None = Field(None, description="unset = <state_dir>/test-neo4j")
    test_bolt_port: int = 7688
    test_http_port: int = 7475
    test_neo4j_uri: str | None = Field(None, description="an existing server for the tests; unset = the local one")
    test_neo4j_password: SecretStr | None = None
    test_keep_server: bool = Field(False, description="keep a test server the run started (faster reruns)")
    # -- the benchmark server (emptied by benchmarks) -------------------------------------------
    bench_state_dir: Path | None = Field(None, description="unset = <state_dir>/bench-neo4j")
    bench_bolt_port: int = 7689
    bench_http_port: int = 7476
    # -- work -----------------------------------------------------------------------------------
    write_batch_size: int = Field(
        5_000,
        ge=1,
        validation_alias=AliasChoices("KGREC_WRITE_BATCH_SIZE", "KGREC_BATCH_SIZE", "write_batch_size"),
        description="rows per UNWIND write transaction (KGREC_BATCH_SIZE is still read)",
    )
    embedding_model: str | None = Field(None, description="sentence-transformer path; unset = packaged MiniLM")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch device; auto = each library chooses")
    seed: int = Field(42, description="random seed of splits, sampling and model initialisation")
    # -- serving --------------------------------------------------------------------------------
    api_token: SecretStr | None = Field(
        None, description="bearer token `kgrec serve` requires on every route but /health"
    )
    # what `kgrec serve --workers N` hands to each worker process (it sets these for them)
    serve_checkpoint: Path | None = Field(None, description="checkpoint a `kgrec serve` worker serves")
    serve_refresh_s: float = Field(10.0, description="seconds between a worker's refreshes from the graph")
    serve_bundle_gnn: bool = Field(False, description="a worker trains the bundle GNN at start")

    @property
    def server_dir(self) -> Path:
        return self.state_dir / "neo4j"

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    def local_server(self) -> LocalNeo4j:
        """The project's own server (used when ``neo4j_uri`` is unset)."""
        return _server(self.server_dir, self.bolt_port, self.http_port, self.neo4j_heap, self.neo4j_pagecache)

    def test_server(self, heap: str = "1g", pagecache: str = "256m") -> LocalNeo4j:
        """The server the test suite empties and fills (``tests/conftest.py``)."""
        state = self.test_state_dir or self.state_dir / "test-neo4j"
        return _server(state, self.test_bolt_port, self.test_http_port, heap, pagecache)

    def bench_server(self, heap: str = "2g", pagecache: str = "1g") -> LocalNeo4j:
        """The server benchmarks empty and fill (``bench/common.py``)."""
        state = self.bench_state_dir or self.state_dir / "bench-neo4j"
        return _server(state, self.bench_bolt_port, self.bench_http_port, heap, pagecache)

    def credentials(self) -> Neo4jCredentials:
        """Credentials of the configured server: an explicit URI, else the local server's."""
        if self.neo4j_uri:
            password = self.neo4j_password.get_secret_value() if self.neo4j_password else ""
            return Neo4jCredentials(self.neo4j_uri, self.neo4j_user, password, self.neo4j_database)
        return self.local_server().credentials()

    def test_credentials(self) -> Neo4jCredentials:
        """Credentials of the test server: ``test_neo4j_uri`` if set, else the local test server's."""
        if self.test_neo4j_uri:
            password = self.test_neo4j_password.get_secret_value() if self.test_neo4j_password else ""
            return Neo4jCredentials(self.test_neo4j_uri, "neo4j", password)
        return self.test_server().credentials()

    def uses_local_server(self) -> bool:
        return not self.neo4j_uri


def _server(state_dir: Path, bolt_port: int, http_port: int, heap: str, pagecache: str) -> LocalNeo4j:
    return LocalNeo4j(ServerConfig(state_dir, bolt_port, http_port, heap=heap, pagecache=pagecache))

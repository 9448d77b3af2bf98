"""Shared fixtures: one real Neo4j test server per run, on its own ports and state folder.

The server is the project's own (``kg.local_server``), never a mock; where it lives comes from
``kgrec.config.Settings``. Set ``KGREC_TEST_NEO4J_URI`` / ``KGREC_TEST_NEO4J_PASSWORD`` to run
against another real server, or ``KGREC_TEST_STATE_DIR`` / ``KGREC_TEST_BOLT_PORT`` /
``KGREC_TEST_HTTP_PORT`` to run a second one beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def test_settings() -> Settings:
    """Settings of this run; the test server's folder defaults to <repository>/.kgrec/test-neo4j."""
    settings = Settings()
    if settings.test_state_dir is None:
        settings = settings.model_copy(update={"test_state_dir": ROOT / ".kgrec" / "test-neo4j"})
    return settings


@pytest.fixture(scope="session")
def test_server(test_settings: Settings) -> Iterator[LocalNeo4j]:
    """The test server, started once per run (or reused if it already runs).

    A server this run started is stopped when the run ends, so a test run leaves no server
    behind; set ``KGREC_TEST_KEEP_SERVER=1`` to keep it for faster reruns.
    """
    server = test_settings.test_server()
    started_here = False
    if not test_settings.test_neo4j_uri:
        started_here = not server.status().running
        server.start()
    yield server
    if started_here and not test_settings.test_keep_server:
        server.stop()


@pytest.fixture(scope="session")
def test_credentials(test_settings: Settings, test_server: LocalNeo4j) -> Neo4jCredentials:
    return test_settings.test_credentials()


@pytest.fixture(scope="session")
def session_graph(test_credentials: Neo4jCredentials) -> Iterator[GraphConnection]:
    conn = GraphConnection(test_credentials).connect()
    yield conn
    conn.close()


@pytest.fixture()
def graph(session_graph: GraphConnection) -> GraphConnection:
    """An empty graph with the schema in place."""
    from kgrec.kg.schema import ensure_schema

    session_graph.clear()
    ensure_schema(session_graph)
    return session_graph


@pytest.fixture(scope="module")
def shop(session_graph: GraphConnection) -> GraphConnection:
    """The hand-built six-product shop, written once per module (its tests only read it)."""
    from kgrec.kg.schema import ensure_schema
    from tests.shop_graphs import build_shop

    session_graph.clear()
    ensure_schema(session_graph)
    build_shop(session_graph)
    return session_graph


SERVER_FIXTURES = {"test_server", "test_credentials", "session_graph", "graph", "shop"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use the real server carry the ``neo4j`` marker (``-m "not neo4j"`` runs the rest)."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.neo4j)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA

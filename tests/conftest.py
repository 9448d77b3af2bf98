"""Shared fixtures: one real Neo4j test server per run, on its own ports and state folder.

The server is the project's own (``kg.local_server``), never a mock. Set
``KGREC_TEST_NEO4J_URI`` / ``KGREC_TEST_NEO4J_PASSWORD`` to run against another real server, or
``KGREC_TEST_STATE_DIR`` / ``KGREC_TEST_BOLT_PORT`` / ``KGREC_TEST_HTTP_PORT`` to run a second one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j, ServerConfig

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def test_server() -> LocalNeo4j:
    """The test server, started once (or reused if it already runs) and left running."""
    server = LocalNeo4j(
        ServerConfig(
            state_dir=Path(os.environ.get("KGREC_TEST_STATE_DIR", ROOT / ".kgrec" / "test-neo4j")),
            bolt_port=int(os.environ.get("KGREC_TEST_BOLT_PORT", "7688")),
            http_port=int(os.environ.get("KGREC_TEST_HTTP_PORT", "7475")),
            heap="1g",
            pagecache="256m",
        )
    )
    if not os.environ.get("KGREC_TEST_NEO4J_URI"):
        server.start()
    return server


@pytest.fixture(scope="session")
def test_credentials(test_server: LocalNeo4j) -> Neo4jCredentials:
    uri = os.environ.get("KGREC_TEST_NEO4J_URI")
    if uri:
        return Neo4jCredentials(uri, "neo4j", os.environ.get("KGREC_TEST_NEO4J_PASSWORD", ""))
    return test_server.credentials()


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

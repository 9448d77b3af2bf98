"""The project's own Neo4j server and the connection/schema layer, against the real server."""

from __future__ import annotations

import socket
import stat

import pytest

from kgrec.kg.connection import GraphConnection, Neo4jCredentials, batched
from kgrec.kg.errors import Neo4jUnavailableError, NotConnectedError, SchemaError
from kgrec.kg.local_server import LocalNeo4j, new_password
from kgrec.kg.schema import NODE_KEYS, Label, ensure_schema, key_of


def test_server_runs_on_loopback_with_generated_password(test_server: LocalNeo4j) -> None:
    status = test_server.status()
    assert status.running and status.pid is not None
    assert status.bolt_uri.startswith("bolt://127.0.0.1:")
    mode = stat.S_IMODE(test_server.password_file.stat().st_mode)
    assert mode == 0o600
    assert test_server.password_file.read_text().strip() not in ("", "neo4j")


def test_start_reuses_the_running_server(test_server: LocalNeo4j) -> None:
    before = test_server.status().pid
    assert test_server.start().pid == before


def test_default_password_is_refused(test_server: LocalNeo4j) -> None:
    creds = Neo4jCredentials(test_server.bolt_uri, "neo4j", "neo4j")
    with pytest.raises(Neo4jUnavailableError, match="refused"):
        GraphConnection(creds).connect()


def test_generated_passwords_never_look_like_an_option() -> None:
    drawn = [new_password() for _ in range(2000)]  # token_urlsafe started with "-" once in 64 draws
    assert not any(p.startswith("-") for p in drawn) and len(set(drawn)) == 2000 and len(drawn[0]) == 48


def test_constructor_does_not_connect() -> None:
    conn = GraphConnection(Neo4jCredentials("bolt://127.0.0.1:1", "neo4j", "x"))
    with pytest.raises(NotConnectedError):
        conn.read("RETURN 1")
    with pytest.raises(Neo4jUnavailableError, match="kgrec db start"):
        conn.connect()


def test_schema_is_idempotent(graph: GraphConnection) -> None:
    ensure_schema(graph)
    names = {row["name"] for row in graph.read("SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {f"{label.value.lower()}_{key}_unique" for label, key in NODE_KEYS.items()} <= names
    graph.write("CREATE (:Product {id: 'p1'})")
    with pytest.raises(Exception, match="already exists"):
        graph.write("CREATE (:Product {id: 'p1'})")


def test_write_batches_counts_rows_and_batches(graph: GraphConnection) -> None:
    rows = [{"id": f"u{i}"} for i in range(25)]
    summary = graph.write_batches("UNWIND $rows AS r MERGE (:User {id: r.id})", rows, write_batch_size=10)
    assert (summary.rows, summary.batches, summary.nodes_created) == (25, 3, 25)
    again = graph.write_batches("UNWIND $rows AS r MERGE (:User {id: r.id})", rows, write_batch_size=10)
    assert again.nodes_created == 0
    assert graph.count("MATCH (u:User) RETURN count(u) AS n") == 25


def test_batched_splits_evenly() -> None:
    assert [len(b) for b in batched(range(7), 3)] == [3, 3, 1]


def test_key_of_rejects_unknown_labels() -> None:
    assert key_of(Label.CATEGORY) == "path"
    with pytest.raises(SchemaError, match="not a node label"):
        key_of("Robert'); DROP")  # type: ignore[arg-type]


def test_http_connector_serves_the_browser(test_server: LocalNeo4j) -> None:
    import json
    import os
    import urllib.request

    if os.environ.get("KGREC_TEST_NEO4J_URI"):
        pytest.skip("an external server is under test")
    base = f"http://127.0.0.1:{test_server.config.http_port}"
    with urllib.request.urlopen(f"{base}/", timeout=10) as response:
        discovery = json.load(response)
    assert discovery["neo4j_version"].startswith("5.")
    with urllib.request.urlopen(f"{base}/browser/", timeout=10) as response:
        assert response.status == 200
        assert b"<html" in response.read(2000).lower()


def _free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it), so parallel runs never collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_stop_is_clean_and_data_survives_a_restart(tmp_path) -> None:
    from kgrec.kg.local_server import ServerConfig

    server = LocalNeo4j(
        ServerConfig(
            state_dir=tmp_path / "srv", bolt_port=_free_port(), http_port=_free_port(), heap="512m", pagecache="64m"
        )
    )
    assert not server.status().running
    try:
        server.start()
        with GraphConnection(server.credentials()) as conn:
            conn.write("MERGE (:User {id: 'survivor'})")
        assert server.stop() is True
        assert not server.status().running
        server.start()
        with GraphConnection(server.credentials()) as conn:
            assert conn.count("MATCH (u:User {id: 'survivor'}) RETURN count(u) AS n") == 1
    finally:
        server.stop()
    assert server.stop() is False


def test_vector_index_is_rebuilt_when_the_dimensions_change(graph: GraphConnection) -> None:
    from kgrec.kg.schema import PRODUCT_VECTOR_INDEX, ensure_vector_index

    def dims() -> int:
        rows = graph.execute(
            "SHOW VECTOR INDEXES YIELD name, options WHERE name = $n RETURN options", {"n": PRODUCT_VECTOR_INDEX}
        )
        return int(rows[0]["options"]["indexConfig"]["vector.dimensions"])

    ensure_vector_index(graph, 4)
    ensure_vector_index(graph, 4)
    assert dims() == 4
    ensure_vector_index(graph, 8)
    assert dims() == 8
    graph.write("CREATE (:Product {id: 'v', embedding: [1.0, 0, 0, 0, 0, 0, 0, 0]})")
    graph.execute("CALL db.awaitIndexes(60)")
    rows = graph.read(
        "CALL db.index.vector.queryNodes($i, 1, $v) YIELD node RETURN node.id AS id",
        {"i": PRODUCT_VECTOR_INDEX, "v": [1.0, 0, 0, 0, 0, 0, 0, 0]},
    )
    assert [r["id"] for r in rows] == ["v"]

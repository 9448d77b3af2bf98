"""Faults against the real test server: Neo4j SIGKILLed mid-ingest, then restarted and the ingest re-run;
two overlapping ingests at once. Both must end in the graph a single clean ingest gives.

These are the slow reliability tests (marker ``slow``; ``make test`` runs them): each ingests a slice
of the demo sample a few times and one restarts the server.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kgrec.ingest.pipeline import ingest_source
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.local_server import LocalNeo4j
from tests.reliability.harness import KGREC, cli_env, fingerprint, kill_mid_ingest, sample_slice

pytestmark = pytest.mark.slow


def test_neo4j_killed_mid_ingest_then_rerun_equals_a_clean_run(
    graph: GraphConnection, test_server: LocalNeo4j, test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    if test_server.status().pid is None:
        pytest.skip("the test server is not a local one this run controls")
    shop = sample_slice(tmp_path / "shop", 0, 400)
    outcome = kill_mid_ingest(graph, test_server, test_credentials, shop, tmp_path)
    assert outcome.clean.types["CONTAINS"] > 5_000
    assert outcome.returncode == 1, outcome.output
    assert "Traceback" not in outcome.output
    errors = [line for line in outcome.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, outcome.output
    assert "kgrec db start" in errors[0] and "idempotent" in errors[0]
    assert outcome.partial.checksum != outcome.clean.checksum  # the kill really interrupted the ingest
    assert outcome.rerun_returncode == 0
    assert (outcome.rerun.labels, outcome.rerun.types) == (outcome.clean.labels, outcome.clean.types)
    assert outcome.rerun.checksum == outcome.clean.checksum


def test_two_overlapping_ingests_at_once_equal_one_ingest(
    graph: GraphConnection, test_credentials: Neo4jCredentials, tmp_path: Path
) -> None:
    union = sample_slice(tmp_path / "union", 0, 300)
    ingest_source(graph, union, write_batch_size=500)
    once = fingerprint(graph)

    graph.clear()
    first = sample_slice(tmp_path / "first", 0, 200)
    second = sample_slice(tmp_path / "second", 100, 300)
    children = [
        subprocess.Popen(
            [KGREC, "ingest", str(folder), "--write-batch-size", "200"],
            env=cli_env(test_credentials, tmp_path / f"state-{folder.name}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for folder in (first, second)
    ]
    outputs = [c.communicate(timeout=600)[0] for c in children]
    assert [c.returncode for c in children] == [0, 0], outputs
    both = fingerprint(graph)
    assert (both.labels, both.types) == (once.labels, once.types)
    assert both.checksum == once.checksum

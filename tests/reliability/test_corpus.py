"""Every kind of broken input in the corpus, ingested into the real test server, does what its case says."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgrec.kg.connection import GraphConnection
from tests.reliability.corpus import CASES, Case
from tests.reliability.harness import run_case


def test_the_corpus_covers_at_least_forty_kinds() -> None:
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names) >= 40
    readers = {c.source for c in CASES if c.source}
    assert readers == {"online-retail", "movielens", "youshu", "amazon-book"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_input(case: Case, graph: GraphConnection, tmp_path: Path) -> None:
    outcome = run_case(graph, case, tmp_path, twice=not case.heavy)
    assert outcome.crash is None, outcome.crash
    assert not outcome.problems, "\n".join(outcome.problems)

"""The Cypher vocabulary module: every statement it builds uses the schema and compiles on Neo4j."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kgrec.kg import cypher
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import SchemaError
from kgrec.kg.schema import Label, Rel

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = cypher.catalogue()
EXPLAINABLE = {name: text for name, text in CATALOGUE.items() if name not in cypher.NOT_EXPLAINABLE}

#: The code that sends Cypher; only kg/cypher.py (and queries/*.cypher) may hold its text.
SENDERS = [
    *sorted((ROOT / "kg").glob("*.py")),
    *sorted((ROOT / "ingest").rglob("*.py")),
    ROOT / "gnn" / "bundles.py",
    ROOT / "gnn" / "bundle_recs.py",
    *sorted((ROOT / "kgrec").glob("*.py")),
    *sorted((ROOT / "kgrec" / "cli").glob("*.py")),
]
_CYPHER_TEXT = re.compile(
    r"\b(MATCH \(|MERGE \(|UNWIND \$|DETACH DELETE|CREATE (INDEX|CONSTRAINT)|CALL db\.)|\(\w*:[A-Z]\w*[ {)]"
)


def test_the_catalogue_covers_every_kind_of_statement() -> None:
    assert {"PRODUCTS", "ORDER_ITEMS", "RECOMPUTE_PURCHASED", "WRITE_BOUGHT_WITH", "ORDER_LINES"} <= set(CATALOGUE)
    assert f"node_ids({Label.BUNDLE})" in CATALOGUE and "EXISTING_IDS[Order]" in CATALOGUE
    assert sum(name.startswith("edges(") for name in CATALOGUE) == 4 * len(cypher.RELATIONS)


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_statements_use_only_the_schema_vocabulary(name: str) -> None:
    cypher.check_vocabulary(CATALOGUE[name], name)


def test_statements_take_values_as_parameters() -> None:
    """No quoted string values in the text: everything a caller varies arrives as a $parameter."""
    for name, text in CATALOGUE.items():
        quoted = re.findall(r"'([^']*)'", text.replace("`vector.", ""))
        assert set(quoted) <= {"", " "}, f"{name} holds literal values {quoted}"


def test_vocabulary_check_names_the_typo() -> None:
    with pytest.raises(SchemaError, match="'Prodcut'"):
        cypher.check_vocabulary("MATCH (p:Prodcut) RETURN p", "typo")
    with pytest.raises(SchemaError, match="'BOUGHT_WTIH'"):
        cypher.check_vocabulary("MATCH (:Product)-[r:BOUGHT_WTIH]->() RETURN r", "typo")
    cypher.check_vocabulary(f"MATCH (:{Label.USER})-[:{Rel.PURCHASED}|{Rel.RATED}]->(:{Label.PRODUCT}) RETURN 1", "ok")


def test_schema_statements_are_idempotent_ddl() -> None:
    statements = cypher.schema_statements()
    assert len({s.name for s in statements}) == len(statements)
    assert all(" IF NOT EXISTS " in s.cypher for s in statements)
    with pytest.raises(SchemaError):
        cypher.vector_index_statement(0)


@pytest.mark.parametrize("path", SENDERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_cypher_text_outside_the_vocabulary_module(path: Path) -> None:
    if path.name == "cypher.py" and path.parent.name == "kg":
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and not _is_docstring(node):
            assert not _CYPHER_TEXT.search(node.value), f"{path.name}:{node.lineno} sends its own Cypher"


def _is_docstring(node: ast.Constant) -> bool:
    text = node.value
    return isinstance(text, str) and ("\n" in text or text.endswith(".") or "``" in text)


@pytest.mark.parametrize("name", sorted(EXPLAINABLE))
def test_every_statement_compiles_on_the_server(session_graph: GraphConnection, name: str) -> None:
    """EXPLAIN plans without running: a syntax error or a wrong clause fails here, not in production."""
    plan = session_graph.execute("EXPLAIN " + EXPLAINABLE[name])
    assert plan == []

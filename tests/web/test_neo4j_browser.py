"""The Neo4j Browser files in db/browser: saved queries valid on the real server, a complete style sheet.

Every saved query is EXPLAINed on the real test server holding the hand-built shop (plus one stored
recommendation), so a typo in a label, relationship type or property shows up as a Neo4j warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j import NotificationClassification, Record

from kgrec.api import WEB_DIR
from kgrec.cli.db import browser_hints
from kgrec.kg.connection import GraphConnection
from kgrec.kg.local_server import DB_DIR
from kgrec.kg.schema import Label, Rel

BROWSER_DIR = DB_DIR / "browser"
RECOMMENDED = Rel.RECOMMENDED.value  # (User)-[:RECOMMENDED {score, rank, model, at}]->(Product), from serving
REL_TYPES = {r.value for r in Rel}
LABELS = {label.value for label in Label}


@dataclass(frozen=True)
class SavedQuery:
    """One favorite: Neo4j Browser names it after its first line (a ``//`` comment)."""

    file: Path
    name: str
    body: str

    @property
    def is_client_command(self) -> bool:
        return self.body.startswith(":")

    @property
    def parameters(self) -> set[str]:
        return set(re.findall(r"\$(\w+)", self.body))

    @property
    def labels(self) -> set[str]:
        return set(re.findall(r"\(\w*:(\w+)", self.body))

    @property
    def rel_types(self) -> set[str]:
        groups = re.findall(r"\[\w*:([\w|]+)", self.body)
        return {t for g in groups for t in g.split("|")}


def saved_queries() -> list[SavedQuery]:
    out = []
    for path in sorted((BROWSER_DIR / "favorites").glob("*.cypher")):
        first, _, body = path.read_text(encoding="utf-8").partition("\n")
        out.append(SavedQuery(path, first.removeprefix("//").strip(), body.strip()))
    return out


QUERIES = saved_queries()
CYPHER = [q for q in QUERIES if not q.is_client_command]


def default_parameters() -> dict[str, str]:
    """The ``:params`` favorite's map, the values a user starts from."""
    (command,) = [q for q in QUERIES if q.is_client_command]
    assert command.body.startswith(":params {")
    return dict(re.findall(r'(\w+):\s*"([^"]*)"', command.body))


def test_favorites_are_named_and_use_only_the_schema() -> None:
    names = [q.name for q in QUERIES]
    assert len(CYPHER) >= 7 and len(set(names)) == len(names)
    assert all(re.match(r"kgrec \d · \w", n) for n in names), names
    for query in CYPHER:
        assert query.labels <= LABELS, (query.file.name, query.labels - LABELS)
        assert query.rel_types <= REL_TYPES, (query.file.name, query.rel_types - REL_TYPES)
        assert query.parameters <= set(default_parameters()), (query.file.name, query.parameters)
    used = {t for q in CYPHER for t in q.rel_types}
    assert {RECOMMENDED, Rel.PLACED, Rel.CONTAINS, Rel.BOUGHT_WITH, Rel.INCLUDES} <= used


@pytest.fixture(scope="module")
def shop_with_recommendation(shop: GraphConnection) -> GraphConnection:
    shop.write(
        f"MATCH (u:{Label.USER} {{id: 'U1'}}), (p:{Label.PRODUCT} {{id: 'P2'}}) "
        f"CREATE (u)-[:{RECOMMENDED} {{score: 0.9, rank: 1, model: 'kgcf', at: datetime()}}]->(p)"
    )
    return shop


@pytest.mark.parametrize("query", CYPHER, ids=[q.file.stem for q in CYPHER])
def test_saved_query_explains_cleanly_on_the_real_server(
    shop_with_recommendation: GraphConnection, query: SavedQuery
) -> None:
    conn = shop_with_recommendation
    summary = conn.driver.execute_query(
        f"EXPLAIN {query.body}", default_parameters(), database_=conn.credentials.database
    ).summary
    assert summary.plan is not None
    problems = [
        f"{s.gql_status} {s.status_description}"
        for s in summary.gql_status_objects
        if s.is_notification and s.classification != NotificationClassification.PERFORMANCE
    ]  # unknown labels, types or properties, deprecations, syntax hints; a Cartesian product may be meant
    assert problems == [], query.file.name


def run_saved(conn: GraphConnection, stem: str, **parameters: str) -> list[Record]:
    (query,) = [q for q in CYPHER if q.file.stem == stem]
    return conn.driver.execute_query(query.body, parameters, database_=conn.credentials.database).records


def test_saved_queries_find_the_shops_recommendation_and_its_paths(shop_with_recommendation: GraphConnection) -> None:
    conn = shop_with_recommendation
    recs = run_saved(conn, "3-recommendations", user_id="U1")
    assert [(r["u"]["id"], r["p"]["id"]) for r in recs] == [("U1", "P2")]
    paths = run_saved(conn, "4-explanation-paths", user_id="U1", product_id="P2")
    ids = {tuple(n.get("id") for n in r["path"].nodes) for r in paths}
    assert ("U1", "P1", "P2") in ids  # co-purchase: U1 bought P1, bought with P2 (lift 12.3)
    assert ("U1", "P1", "U2", "P2") in ids  # similar users
    orders = run_saved(conn, "2-customer-orders", user_id="U1")
    assert sorted(r["p"]["id"] for r in orders) == ["P1", "P3"]


GRASS_RULE = re.compile(r"(node|relationship)(?:\.(\w+))?\s*\{([^}]*)\}")


def test_grass_styles_every_label_and_type_in_the_explorers_colours() -> None:
    rules = {(kind, name): body for kind, name, body in GRASS_RULE.findall((BROWSER_DIR / "kgrec.grass").read_text())}
    assert {name for kind, name in rules if kind == "node" and name} == LABELS
    assert {name for kind, name in rules if kind == "relationship" and name} == REL_TYPES
    page = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    explorer = dict(re.findall(r'(\w+):"(#[0-9a-f]{6})"', page.split("const COLORS = ", 1)[1].split(";", 1)[0]))
    for label in LABELS:
        body = rules[("node", label)]
        assert f"color: {explorer[label]};" in body and "caption:" in body, label


def test_db_start_says_where_the_browser_files_are(tmp_path: Path) -> None:
    style, queries = browser_hints()
    assert str(BROWSER_DIR / "kgrec.grass") in style and str(BROWSER_DIR / "favorites") in queries
    assert browser_hints(tmp_path) == []  # a checkout without db/browser prints nothing

"""Every Cypher statement that kg/ and ingest/ send, built only from the vocabulary of ``kg.schema``.

Read-only questions live as named ``queries/*.cypher`` files; everything else (writes, exports,
schema DDL, batched deletes) is text from this module. Rules that keep it honest:

* labels and relationship types come from ``Label`` / ``Rel`` (never a string literal, never an
  alias), property keys of node identity from ``NODE_KEYS``;
* every value is a ``$parameter``; batched writes read ``$rows`` through ``UNWIND``;
* :func:`catalogue` lists every statement built here, so tests can ``EXPLAIN`` each one against
  the real server and :func:`check_vocabulary` each one against the schema.

Far ends of expansions carry no label on purpose in the writes: right after a bulk change the
planner's statistics can be stale, and a label there invites a label scan instead of expanding
from the already bound node (10-20x slower first writes). The relationship type implies the label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kgrec.kg import schema
from kgrec.kg.errors import SchemaError
from kgrec.kg.schema import NODE_KEYS, PRODUCT_FULLTEXT_INDEX, PRODUCT_VECTOR_INDEX, RELATIONS, Label, Rel, key_of

# -- vocabulary check (shared with queries/runner.py) ---------------------------------------------
_LABEL_RE = re.compile(r"\(\s*\w*\s*:\s*([A-Za-z_][\w|&]*)")
_REL_RE = re.compile(r"\[\s*\w*\s*:\s*([A-Za-z_][\w|]*)")


def check_vocabulary(cypher: str, where: str) -> None:
    """Raise SchemaError if ``cypher`` names a label or relationship type outside ``kg.schema``."""
    labels, rels = {label.value for label in Label}, {rel.value for rel in Rel}
    for match in _LABEL_RE.finditer(cypher):
        for name in re.split(r"[|&]", match.group(1)):
            if name not in labels:
                raise SchemaError(f"{where}: label {name!r} is not in kg.schema.Label")
    for match in _REL_RE.finditer(cypher):
        for name in match.group(1).split("|"):
            if name not in rels:
                raise SchemaError(f"{where}: relationship type {name!r} is not in kg.schema.Rel")


# -- schema DDL (run by kg.schema.ensure_schema / ensure_vector_index; not EXPLAINable) -----------
@dataclass(frozen=True)
class SchemaStatement:
    """One idempotent DDL statement and what it is for."""

    name: str
    cypher: str


_INDEXES: tuple[tuple[str, Label, str], ...] = (
    ("order_timestamp", Label.ORDER, "n.timestamp"),
    ("attribute_name_value", Label.ATTRIBUTE, "n.name, n.value"),
    ("bundle_source", Label.BUNDLE, "n.source"),
    ("product_text_hash", Label.PRODUCT, "n.text_hash"),
)


def schema_statements() -> list[SchemaStatement]:
    """Constraints and indexes, all ``IF NOT EXISTS`` so that running them twice changes nothing."""
    statements = [
        SchemaStatement(
            f"{label.value.lower()}_{key}_unique",
            f"CREATE CONSTRAINT {label.value.lower()}_{key}_unique IF NOT EXISTS FOR (n:{label}) REQUIRE n.{key} IS UNIQUE",
        )
        for label, key in NODE_KEYS.items()
    ]
    statements += [
        SchemaStatement(name, f"CREATE INDEX {name} IF NOT EXISTS FOR (n:{label}) ON ({props})")
        for name, label, props in _INDEXES
    ]
    statements.append(
        SchemaStatement(
            PRODUCT_FULLTEXT_INDEX,
            f"CREATE FULLTEXT INDEX {PRODUCT_FULLTEXT_INDEX} IF NOT EXISTS "
            f"FOR (n:{Label.PRODUCT}) ON EACH [n.title, n.description]",
        )
    )
    return statements


def vector_index_statement(dimensions: int) -> SchemaStatement:
    """The cosine vector index over Product.embedding (created once vectors exist)."""
    if dimensions <= 0:
        raise SchemaError(f"vector dimensions must be positive, got {dimensions}")
    return SchemaStatement(
        PRODUCT_VECTOR_INDEX,
        f"CREATE VECTOR INDEX {PRODUCT_VECTOR_INDEX} IF NOT EXISTS FOR (n:{Label.PRODUCT}) ON (n.embedding) "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimensions)}, `vector.similarity_function`: 'cosine'}}}}",
    )


VECTOR_INDEX_OPTIONS = "SHOW VECTOR INDEXES YIELD name, options WHERE name = $name RETURN options"
DROP_VECTOR_INDEX = f"DROP INDEX {PRODUCT_VECTOR_INDEX} IF EXISTS"
AWAIT_INDEXES = "CALL db.awaitIndexes($timeout_s)"

# -- whole-graph maintenance (kg.connection) ------------------------------------------------------
CLEAR_RELATIONSHIPS = "MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF $size ROWS"
CLEAR_NODES = "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF $size ROWS"

# -- co-purchase (kg.copurchase) ------------------------------------------------------------------
_BASKET = f"(o:{Label.ORDER})-[:{Rel.CONTAINS}]->(p:{Label.PRODUCT})"
BASKETS = f"MATCH {_BASKET} WHERE $before IS NULL OR o.timestamp < $before RETURN o.id AS o, collect(p.id) AS items"
BASKETS_OF_ORDERS = (
    f"UNWIND $ids AS id MATCH (o:{Label.ORDER} {{id: id}})-[:{Rel.CONTAINS}]->(p:{Label.PRODUCT}) "
    "WHERE $before IS NULL OR o.timestamp < $before RETURN o.id AS o, collect(p.id) AS items"
)
DELETE_BOUGHT_WITH = f"MATCH ()-[r:{Rel.BOUGHT_WITH}]->() CALL (r) {{ DELETE r }} IN TRANSACTIONS OF $size ROWS"
WRITE_BOUGHT_WITH = (
    f"UNWIND $rows AS r MATCH (a:{Label.PRODUCT} {{id: r.a}}) MATCH (b:{Label.PRODUCT} {{id: r.b}}) "
    f"CREATE (a)-[:{Rel.BOUGHT_WITH} {{orders: r.orders, support: r.support, confidence: r.ab, lift: r.lift}}]->(b) "
    f"CREATE (b)-[:{Rel.BOUGHT_WITH} {{orders: r.orders, support: r.support, confidence: r.ba, lift: r.lift}}]->(a)"
)

# -- mined bundles (kg.bundle_mining); the title joins the items' titles (an id where none) ------
WRITE_MINED_BUNDLES = (
    f"UNWIND $rows AS r MERGE (b:{Label.BUNDLE} {{id: r.id}}) "
    "SET b.source = $source, b.orders = r.orders, b.lift = r.lift, b.size = size(r.items) "
    f"WITH b, r UNWIND r.items AS pid MATCH (p:{Label.PRODUCT} {{id: pid}}) MERGE (b)-[:{Rel.INCLUDES}]->(p) "
    "WITH b, r, collect(p) AS found "
    "WITH b, [pid IN r.items | head([p IN found WHERE p.id = pid AND p.title <> '' | p.title] + [pid])] AS names "
    "SET b.title = reduce(t = head(names), n IN tail(names) | t + $joiner + n)"
)
STALE_BUNDLES = f"MATCH (b:{Label.BUNDLE} {{source: $source}}) WHERE NOT b.id IN $keep RETURN b.id AS id"
DELETE_BUNDLES = f"UNWIND $rows AS r MATCH (b:{Label.BUNDLE} {{id: r.id, source: $source}}) DETACH DELETE b"

# -- text embeddings (kg.embeddings); property keys as parameters so absent ones raise no notice --
PRODUCT_IDS = f"MATCH (p:{Label.PRODUCT}) RETURN p.id AS id"
PRODUCT_TEXTS = (
    f"UNWIND $ids AS pid MATCH (p:{Label.PRODUCT} {{id: pid}}) "
    f"WITH p, [(p)-->(c:{Label.CATEGORY}) | c.path] AS cats, [(p)-->(b:{Label.BRAND}) | b.name] AS brands, "
    f"[(p)-->(a:{Label.ATTRIBUTE}) | coalesce(a[$name] + ' ' + a[$value], a.key)] AS attrs "
    "RETURN p.id AS id, p[$title] AS title, p[$description] AS description, cats, brands, attrs, "
    "p[$hash] AS hash, p[$vector] IS NOT NULL AS has_vector"
)
WRITE_VECTORS = (
    f"UNWIND $rows AS row MATCH (p:{Label.PRODUCT} {{id: row.id}}) SET p.embedding = row.vector, p.text_hash = row.hash"
)
CLEAR_VECTORS = f"UNWIND $rows AS row MATCH (p:{Label.PRODUCT} {{id: row.id}}) REMOVE p.embedding, p.text_hash"
NEAREST_BY_VECTOR = (
    "CALL db.index.vector.queryNodes($index, $k, $vector) YIELD node, score "
    "RETURN node.id AS id, node.title AS title, score ORDER BY score DESC"
)

# -- graph export (kg.export) ---------------------------------------------------------------------
LABELS = "CALL db.labels() YIELD label RETURN label"
RELATIONSHIP_TYPES = "CALL db.relationshipTypes() YIELD relationshipType AS t RETURN t"


def node_ids(label: Label) -> str:
    """Key values of every node of ``label``."""
    key = key_of(label)
    return f"MATCH (n:{label}) WHERE n.{key} IS NOT NULL RETURN n.{key} AS id"


def edges(source: Label, rel: Rel, target: Label, value: bool, split: bool) -> str:
    """Edges of one relation from the sources in ``$ids``; ``r[$value]`` / ``r[$split]`` when asked."""
    return (
        f"UNWIND $ids AS sid MATCH (a:{source} {{{key_of(source)}: sid}})-[r:{rel}]->(b:{target}) "
        f"RETURN sid AS s, b.{key_of(target)} AS t, {'r[$value]' if value else 'null'} AS v, "
        f"{'r[$split]' if split else 'null'} AS split"
    )


ORDER_LINES = (
    f"UNWIND $ids AS uid MATCH (u:{Label.USER} {{id: uid}})-[:{Rel.PLACED}]->{_BASKET} "
    "RETURN uid AS u, o.id AS o, p.id AS p, "
    "CASE WHEN o.timestamp IS NULL THEN null ELSE datetime(o.timestamp).epochSeconds END AS ts"
)
PRODUCT_VECTORS = f"UNWIND $ids AS pid MATCH (p:{Label.PRODUCT} {{id: pid}}) RETURN pid AS id, p[$title] AS title, p[$vector] AS vector"

# -- ingest: nodes --------------------------------------------------------------------------------
PRODUCTS = (
    f"UNWIND $rows AS r MERGE (p:{Label.PRODUCT} {{id: r.product_id}}) "
    "SET p.title = r.title, p.description = r.description, p.price = r.price SET p += r.props"
)
CATEGORIES = (
    f"UNWIND $rows AS r MERGE (c:{Label.CATEGORY} {{path: r.path}}) "
    "SET c.name = r.name, c.level = r.level, c.derived = r.derived"
)
CATEGORY_PARENTS = (
    f"UNWIND $rows AS r MATCH (c:{Label.CATEGORY} {{path: r.path}}), (parent:{Label.CATEGORY} {{path: r.parent}}) "
    f"MERGE (c)-[:{Rel.CHILD_OF}]->(parent)"
)
BRANDS = f"UNWIND $rows AS r MERGE (:{Label.BRAND} {{name: r.name}})"
ATTRIBUTES = (
    f"UNWIND $rows AS r MERGE (a:{Label.ATTRIBUTE} {{key: r.key}}) "
    "SET a.name = r.name, a.value = r.value, a.derived = r.derived"
)
USERS = f"UNWIND $rows AS r MERGE (u:{Label.USER} {{id: r.id}}) SET u += r.props"
ORDERS = (
    f"UNWIND $rows AS r MERGE (u:{Label.USER} {{id: r.user_id}}) MERGE (o:{Label.ORDER} {{id: r.id}}) "
    f"SET o.timestamp = datetime(r.ts) SET o += r.props MERGE (u)-[:{Rel.PLACED}]->(o)"
)
BUNDLES = f"UNWIND $rows AS r MERGE (b:{Label.BUNDLE} {{id: r.id}}) SET b.title = r.title, b.source = $source SET b += r.props"


def replace_links(source: Label, rel: Rel, target: Label) -> str:
    """Make each source's ``rel`` links exactly its ``r.targets`` (target keys); others are removed."""
    tkey = key_of(target)
    return (
        f"UNWIND $rows AS r MATCH (s:{source} {{{key_of(source)}: r.id}}) "
        f"CALL (s, r) {{ MATCH (s)-[old:{rel}]->(t) WHERE NOT t.{tkey} IN r.targets DELETE old }} "
        f"CALL (s, r) {{ UNWIND r.targets AS key MATCH (t:{target} {{{tkey}: key}}) MERGE (s)-[:{rel}]->(t) }}"
    )


def attribute_links(owner: Label) -> str:
    """Per owner, replace the HAS_ATTRIBUTE links of the attribute names in ``r.names`` by ``r.keys``."""
    return (
        f"UNWIND $rows AS r MATCH (o:{owner} {{{key_of(owner)}: r.id}}) "
        f"CALL (o, r) {{ MATCH (o)-[h:{Rel.HAS_ATTRIBUTE}]->(a) WHERE a.name IN r.names AND NOT a.key IN r.keys "
        "DELETE h } "
        f"CALL (o, r) {{ UNWIND r.keys AS k MATCH (a:{Label.ATTRIBUTE} {{key: k}}) "
        f"MERGE (o)-[:{Rel.HAS_ATTRIBUTE}]->(a) }}"
    )


PRODUCT_CATEGORIES = replace_links(Label.PRODUCT, Rel.IN_CATEGORY, Label.CATEGORY)
PRODUCT_BRANDS = replace_links(Label.PRODUCT, Rel.MADE_BY, Label.BRAND)
PRODUCT_ATTRIBUTES = attribute_links(Label.PRODUCT)
USER_ATTRIBUTES = attribute_links(Label.USER)

# -- ingest: relationships ------------------------------------------------------------------------
#: Items of orders this ingest created (no CONTAINS yet): CREATE, grouped per order.
#: The order is locked first (SET), then checked: if an ingest running at the same time wrote items of the
#: same order meanwhile, this one MERGEs instead of CREATing, so overlapping concurrent ingests never duplicate.
NEW_ORDER_ITEMS = (
    f"UNWIND $rows AS r MATCH (o:{Label.ORDER} {{id: r.order_id}}) SET o._lock = true REMOVE o._lock "
    f"WITH o, r, EXISTS {{ (o)-[:{Rel.CONTAINS}]->() }} AS seen UNWIND r.items AS i "
    f"MATCH (p:{Label.PRODUCT} {{id: i.product_id}}) "
    f"CALL (o, p, i, seen) {{ WITH * WHERE NOT seen "
    f"CREATE (o)-[c:{Rel.CONTAINS} {{quantity: i.quantity, price: i.price}}]->(p) SET c += coalesce(i.props, {{}}) }} "
    f"CALL (o, p, i, seen) {{ WITH * WHERE seen MERGE (o)-[c:{Rel.CONTAINS}]->(p) "
    "SET c.quantity = i.quantity, c.price = i.price SET c += coalesce(i.props, {}) }"
)
#: Items of orders already in the graph: MERGE, so rewriting an order stays idempotent.
ORDER_ITEMS = (
    f"UNWIND $rows AS r MATCH (o:{Label.ORDER} {{id: r.order_id}}) MATCH (p:{Label.PRODUCT} {{id: r.product_id}}) "
    f"MERGE (o)-[c:{Rel.CONTAINS}]->(p) SET c.quantity = r.quantity, c.price = r.price SET c += coalesce(r.props, {{}})"
)
BUNDLE_ITEMS = (
    f"UNWIND $rows AS r MATCH (b:{Label.BUNDLE} {{id: r.bundle_id}}) MATCH (p:{Label.PRODUCT} {{id: r.product_id}}) "
    f"MERGE (b)-[x:{Rel.INCLUDES}]->(p) SET x += r.props"
)
RATINGS = (
    f"UNWIND $rows AS r MERGE (u:{Label.USER} {{id: r.user_id}}) WITH u, r "
    f"MATCH (p:{Label.PRODUCT} {{id: r.product_id}}) MERGE (u)-[x:{Rel.RATED}]->(p) "
    "WITH x, r, CASE WHEN r.ts IS NULL THEN null ELSE datetime(r.ts) END AS ts "
    "WHERE x.ts IS NULL OR ts IS NULL OR ts >= x.ts "
    "SET x.rating = r.rating, x.ts = coalesce(ts, x.ts) SET x += r.props"
)


def events(rel: Rel, target: Label, target_field: str, prefix: str = "", last_name: str = "last") -> str:
    """MERGE each ``r.user_id``'s ``rel`` to ``r.<target_field>`` keeping the distinct event times seen.

    The relationship keeps ``<prefix>event_ts`` (the set), ``<prefix>untimed``, ``<prefix>count``,
    ``<prefix>first`` and ``<prefix><last_name>``; writing the same rows twice changes nothing.
    """
    names = ("event_ts", "untimed", "count", "first", last_name)
    ts, untimed, count, first, last = (f"{prefix}{n}" for n in names)
    return (
        f"UNWIND $rows AS r MERGE (u:{Label.USER} {{id: r.user_id}}) WITH u, r "
        f"MATCH (t:{target} {{{key_of(target)}: r.{target_field}}}) MERGE (u)-[x:{rel}]->(t) "
        f"WITH x, r, coalesce(x.{ts}, []) AS old, coalesce(x.{untimed}, false) OR r.untimed AS untimed "
        "WITH x, r, untimed, old + [t IN r.ts WHERE NOT datetime(t) IN old | datetime(t)] AS events "
        f"SET x.{ts} = CASE WHEN size(events) = 0 THEN null ELSE events END, x.{untimed} = untimed, "
        f"x.{count} = size(events) + CASE WHEN untimed THEN 1 ELSE 0 END, "
        f"x.{last} = reduce(m = null, e IN events | CASE WHEN m IS NULL OR e > m THEN e ELSE m END), "
        f"x.{first} = reduce(m = null, e IN events | CASE WHEN m IS NULL OR e < m THEN e ELSE m END) "
        "SET x += r.props"
    )


VIEWS = events(Rel.VIEWED, Label.PRODUCT, "product_id")
CART_ADDS = events(Rel.ADDED_TO_CART, Label.PRODUCT, "product_id")
DIRECT_PURCHASES = events(Rel.PURCHASED, Label.PRODUCT, "product_id", prefix="direct_")
BUNDLE_INTERACTIONS = events(Rel.INTERACTED_WITH, Label.BUNDLE, "bundle_id", last_name="ts")

#: Rebuild PURCHASED of the users in ``$rows`` from their orders plus their direct purchase events.
RECOMPUTE_PURCHASED = (
    f"UNWIND $rows AS row MATCH (u:{Label.USER} {{id: row.id}}) "
    f"CALL (u) {{ OPTIONAL MATCH (u)-[:{Rel.PLACED}]->(o)-[c:{Rel.CONTAINS}]->(p) "
    "WITH u, p, count(DISTINCT o) AS n, sum(c.quantity) AS q, min(o.timestamp) AS f, max(o.timestamp) AS l "
    "CALL (u, p, n, q, f, l) { WITH * WHERE p IS NOT NULL "
    f"MERGE (u)-[x:{Rel.PURCHASED}]->(p) "
    "SET x.count = coalesce(x.direct_count, 0) + n, x.quantity = coalesce(x.direct_count, 0) + q, "
    "x.first = CASE WHEN x.direct_first IS NULL OR f < x.direct_first THEN f ELSE x.direct_first END, "
    "x.last = CASE WHEN x.direct_last IS NULL OR l > x.direct_last THEN l ELSE x.direct_last END } "
    "RETURN collect(p) AS ordered } "
    f"CALL (u, ordered) {{ MATCH (u)-[x:{Rel.PURCHASED}]->(p) WHERE NOT p IN ordered "
    "SET x.count = coalesce(x.direct_count, 0), x.quantity = coalesce(x.direct_count, 0), "
    "x.first = x.direct_first, x.last = x.direct_last "
    "WITH x WHERE x.count = 0 DELETE x }"
)

# -- ingest: lookups ------------------------------------------------------------------------------
#: Which of ``$ids`` exist, per label the validator asks about.
EXISTING_IDS: dict[Label, str] = {
    label: f"UNWIND $ids AS id MATCH (n:{label} {{{key_of(label)}: id}}) RETURN n.{key_of(label)} AS id"
    for label in (Label.PRODUCT, Label.ORDER, Label.BUNDLE)
}
USERS_OF_ORDERS = (
    f"UNWIND $ids AS id MATCH (u:{Label.USER})-[:{Rel.PLACED}]->(:{Label.ORDER} {{id: id}}) RETURN DISTINCT u.id AS id"
)


# -- serving write-back: (User)-[:RECOMMENDED {score, rank, model, at}]->(Product) -----------------
#: One batch of users: their previous RECOMMENDED edges are deleted and the new top-k created, in one
#: transaction. ``$rows``: [{user_id, items: [{product_id, score, rank}]}], ``$model``, ``$at`` (datetime).
WRITE_RECOMMENDED = (
    f"UNWIND $rows AS row MATCH (u:{Label.USER} {{id: row.user_id}}) "
    f"CALL (u) {{ MATCH (u)-[old:{Rel.RECOMMENDED}]->(:{Label.PRODUCT}) DELETE old }} "
    f"WITH u, row UNWIND row.items AS item MATCH (p:{Label.PRODUCT} {{id: item.product_id}}) "
    f"CREATE (u)-[:{Rel.RECOMMENDED} {{score: item.score, rank: item.rank, model: $model, at: $at}}]->(p)"
)
#: The stored recommendations of users, best rank first (checks and the explorer).
READ_RECOMMENDED = (
    f"UNWIND $ids AS uid MATCH (u:{Label.USER} {{id: uid}})-[r:{Rel.RECOMMENDED}]->(p:{Label.PRODUCT}) "
    "RETURN u.id AS user_id, p.id AS product_id, r.score AS score, r.rank AS rank, r.model AS model, r.at AS at "
    "ORDER BY user_id, rank"
)


#: Administrative statements the server refuses to EXPLAIN (run as they are by kg.schema).
NOT_EXPLAINABLE = frozenset({"DROP_VECTOR_INDEX", "VECTOR_INDEX_OPTIONS", "AWAIT_INDEXES"})


def catalogue() -> dict[str, str]:
    """Every statement this module builds (DDL aside), by name, for EXPLAIN and vocabulary tests."""
    found: dict[str, str] = {}
    for name, value in globals().items():
        if not name.isupper() or name.startswith("_") or hasattr(schema, name):  # statements, not vocabulary
            continue
        if isinstance(value, str):
            found[name] = value
        elif isinstance(value, dict):
            found |= {f"{name}[{key}]": text for key, text in value.items()}
    found |= {f"node_ids({label})": node_ids(label) for label in Label}
    for src, rel, dst in RELATIONS:
        for value in (True, False):
            for split in (True, False):
                found[f"edges({src}, {rel}, {dst}, {value}, {split})"] = edges(src, rel, dst, value, split)
    return found

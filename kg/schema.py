"""The fixed vocabulary of the knowledge graph: node labels, relationship types, keys, indexes.

Labels and relationship types used in Cypher text come only from here, never from input; every
value travels as a parameter. ``ensure_schema`` creates constraints and indexes idempotently.

Graph (see docs/schema.md for the diagram)::

    (User)-[:PLACED]->(Order)-[:CONTAINS {quantity, price}]->(Product)
    (User)-[:PURCHASED {count, quantity, first, last}]->(Product)      derived from orders/interactions
    (User)-[:RATED {rating, ts}]->(Product)
    (User)-[:VIEWED {count, last}]->(Product)
    (User)-[:ADDED_TO_CART {count, last}]->(Product)
    (User)-[:HAS_ATTRIBUTE]->(Attribute {name, value})
    (Product)-[:IN_CATEGORY]->(Category)-[:CHILD_OF]->(Category)
    (Product)-[:MADE_BY]->(Brand)
    (Product)-[:HAS_ATTRIBUTE]->(Attribute {name, value, derived})
    (Bundle)-[:INCLUDES]->(Product)
    (User)-[:INTERACTED_WITH {ts, count}]->(Bundle)
    (Product)-[:BOUGHT_WITH {orders, support, confidence, lift}]->(Product)   derived from baskets
    (User)-[:RECOMMENDED {score, rank, model, at}]->(Product)   written back by serving (kgrec recommend --write-back)
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from kgrec.kg.errors import SchemaError

if TYPE_CHECKING:
    from kgrec.kg.connection import GraphConnection


class Label(StrEnum):
    """Node labels."""

    USER = "User"
    PRODUCT = "Product"
    CATEGORY = "Category"
    BRAND = "Brand"
    ATTRIBUTE = "Attribute"
    ORDER = "Order"
    BUNDLE = "Bundle"


class Rel(StrEnum):
    """Relationship types."""

    PLACED = "PLACED"
    CONTAINS = "CONTAINS"
    PURCHASED = "PURCHASED"
    RATED = "RATED"
    VIEWED = "VIEWED"
    ADDED_TO_CART = "ADDED_TO_CART"
    IN_CATEGORY = "IN_CATEGORY"
    CHILD_OF = "CHILD_OF"
    MADE_BY = "MADE_BY"
    HAS_ATTRIBUTE = "HAS_ATTRIBUTE"
    INCLUDES = "INCLUDES"
    INTERACTED_WITH = "INTERACTED_WITH"
    BOUGHT_WITH = "BOUGHT_WITH"
    RECOMMENDED = "RECOMMENDED"


#: The property that identifies each node label (unique, required).
NODE_KEYS: dict[Label, str] = {
    Label.USER: "id",
    Label.PRODUCT: "id",
    Label.CATEGORY: "path",
    Label.BRAND: "name",
    Label.ATTRIBUTE: "key",
    Label.ORDER: "id",
    Label.BUNDLE: "id",
}

#: (source label, relationship, target label) triples the graph may contain.
RELATIONS: tuple[tuple[Label, Rel, Label], ...] = (
    (Label.USER, Rel.PLACED, Label.ORDER),
    (Label.ORDER, Rel.CONTAINS, Label.PRODUCT),
    (Label.USER, Rel.PURCHASED, Label.PRODUCT),
    (Label.USER, Rel.RATED, Label.PRODUCT),
    (Label.USER, Rel.VIEWED, Label.PRODUCT),
    (Label.USER, Rel.ADDED_TO_CART, Label.PRODUCT),
    (Label.USER, Rel.HAS_ATTRIBUTE, Label.ATTRIBUTE),
    (Label.PRODUCT, Rel.IN_CATEGORY, Label.CATEGORY),
    (Label.CATEGORY, Rel.CHILD_OF, Label.CATEGORY),
    (Label.PRODUCT, Rel.MADE_BY, Label.BRAND),
    (Label.PRODUCT, Rel.HAS_ATTRIBUTE, Label.ATTRIBUTE),
    (Label.BUNDLE, Rel.INCLUDES, Label.PRODUCT),
    (Label.USER, Rel.INTERACTED_WITH, Label.BUNDLE),
    (Label.PRODUCT, Rel.BOUGHT_WITH, Label.PRODUCT),
    (Label.USER, Rel.RECOMMENDED, Label.PRODUCT),
)

#: Name of the Neo4j vector index over Product.embedding.
PRODUCT_VECTOR_INDEX = "product_text_embedding"
#: Name of the full-text index over product titles and descriptions.
PRODUCT_FULLTEXT_INDEX = "product_text"


def key_of(label: Label) -> str:
    """The id property of ``label``; raises SchemaError for a label outside the schema."""
    try:
        return NODE_KEYS[Label(label)]
    except (KeyError, ValueError) as exc:
        raise SchemaError(f"{label!r} is not a node label of the kgrec schema: use kg.schema.Label") from exc


#: Seconds ``ensure_schema`` waits for new indexes to come online.
INDEX_WAIT_S = 300


def ensure_vector_index(conn: GraphConnection, dimensions: int) -> None:
    """Create the product vector index for ``dimensions``; rebuild it if it has other dimensions.

    A changed embedding model changes the vector size, and Neo4j rejects queries whose vector
    size differs from the index's, so an index of the wrong size is dropped and recreated.
    """
    from kgrec.kg import cypher  # the statements are built from this module's vocabulary

    statement = cypher.vector_index_statement(dimensions)
    rows = conn.execute(cypher.VECTOR_INDEX_OPTIONS, {"name": statement.name})
    if rows:
        existing = (rows[0]["options"] or {}).get("indexConfig", {}).get("vector.dimensions")
        if existing is not None and int(existing) != int(dimensions):
            conn.execute(cypher.DROP_VECTOR_INDEX)
    conn.execute(statement.cypher)
    conn.execute(cypher.AWAIT_INDEXES, {"timeout_s": INDEX_WAIT_S})


def ensure_schema(conn: GraphConnection) -> list[str]:
    """Create every constraint and index that is missing; returns the statement names run."""
    from kgrec.kg import cypher  # the statements are built from this module's vocabulary

    names = []
    for statement in cypher.schema_statements():
        conn.execute(statement.cypher)
        names.append(statement.name)
    conn.execute(cypher.AWAIT_INDEXES, {"timeout_s": INDEX_WAIT_S})
    return names

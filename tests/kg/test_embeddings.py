"""Text embeddings with the real packaged model, stored on real Neo4j nodes."""

from __future__ import annotations

import numpy as np
import pytest

from kgrec.kg.connection import GraphConnection
from kgrec.kg.embeddings import (
    TextEncoder,
    clean_text,
    embed_products,
    product_text,
    similar_products_by_text,
    text_hash,
)
from kgrec.kg.schema import Label


def test_clean_text_drops_codes_noise_and_case() -> None:
    assert clean_text("  WHITE HANGING HEART T-LIGHT HOLDER 85123A ") == "white hanging heart t light holder"
    assert clean_text("Mug**  & Saucer!!") == "mug and saucer"
    assert clean_text(None) == ""
    assert product_text(None, "", None, None) == ""
    text = product_text("Red Mug", "A red mug", "Kitchen > Mugs", "Acme", ["colour=red"])
    assert text == "red mug. a red mug. kitchen mugs. acme. colour red"
    assert text_hash(text) == text_hash(
        product_text("RED  MUG 22", "a red mug", "Kitchen > Mugs", "Acme", ["colour=red"])
    )


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()


def test_encoder_normalises_and_separates_meaning(encoder: TextEncoder) -> None:
    vectors = encoder.encode(["red ceramic coffee mug", "coffee cup", "garden pruning shears"])
    assert vectors.shape == (3, encoder.dimensions) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def _write_products(graph: GraphConnection, rows: list[dict]) -> None:
    graph.write_batches(
        f"UNWIND $rows AS r MERGE (p:{Label.PRODUCT} {{id: r.id}}) SET p.title = r.title, p.description = r.d", rows
    )


def test_embed_products_caches_by_text_hash_and_queries_the_index(graph: GraphConnection, encoder: TextEncoder) -> None:
    _write_products(
        graph,
        [
            {"id": "a", "title": "Ceramic coffee mug", "d": "large mug for coffee"},
            {"id": "b", "title": "Scented candle", "d": "vanilla candle in a jar"},
            {"id": "c", "title": "Garden trowel", "d": "steel hand trowel"},
            {"id": "empty", "title": None, "d": None},
        ],
    )
    before = encoder.texts_encoded
    first = embed_products(graph, encoder)
    assert (first.products, first.encoded, first.cached, first.without_text) == (4, 3, 0, 1)
    assert encoder.texts_encoded - before == 3
    rows = graph.read(f"MATCH (p:{Label.PRODUCT}) RETURN p.id AS id, p.embedding AS v, p.text_hash AS h ORDER BY id")
    vec = {r["id"]: r["v"] for r in rows}
    assert vec["empty"] is None and len(vec["a"]) == first.dimensions == 384
    assert abs(np.linalg.norm(vec["a"]) - 1.0) < 1e-4

    second = embed_products(graph, encoder)
    assert (second.encoded, second.cached) == (0, 3)
    assert encoder.texts_encoded - before == 3  # nothing re-encoded

    graph.write(f"MATCH (p:{Label.PRODUCT} {{id: 'c'}}) SET p.title = 'Blue watering can'")
    third = embed_products(graph, encoder)
    assert (third.encoded, third.cached) == (1, 2)

    matches = similar_products_by_text(graph, "a cup of coffee", k=2, encoder=encoder)
    assert next(m.product_id for m in matches) == "a"
    assert matches[0].title == "Ceramic coffee mug" and matches[0].score >= matches[1].score

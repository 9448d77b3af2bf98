"""What the HTTP API speaks: request/response models, the Protocols it calls, and converters.

The GNN and bundle packages' objects only need to look like ``RecommenderLike`` / ``BundlesLike``;
their items may be dataclasses, mappings or objects with ``product_id``/``score``/``title``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import AliasChoices, BaseModel, Field

from kgrec.queries.explain import Explanation


# -- what the API calls (the GNN and bundle packages implement these) --------------------------
class RecommenderLike(Protocol):
    """A trained recommender (gnn.recommender.Recommender); items have product_id, score, title."""

    def recommend(self, user_id: str, k: int = 10) -> Sequence[Any]: ...
    def score(self, user_id: str, product_ids: Sequence[str]) -> Any: ...
    def similar_products(self, product_id: str, k: int = 10) -> Sequence[Any]: ...


@runtime_checkable
class SessionRecommenderLike(Protocol):
    """Optional: cold start for a visitor who is not in the graph, from the products they look at."""

    def recommend_for_basket(self, product_ids: Sequence[str], k: int = 10) -> Sequence[Any]: ...


class BundlesLike(Protocol):
    """Bundle recommendation (gnn.bundles): basket completion, bundles for a user, composition."""

    def complete_basket(
        self, product_ids: Sequence[str], k: int = 10, max_price: float | None = None, category: str | None = None
    ) -> Sequence[Any]: ...
    def recommend_bundles(self, user_id: str, k: int = 5) -> Sequence[Any]: ...
    def compose_bundle(
        self, user_id: str, anchor_product_id: str | None = None, size: int = 3, budget: float | None = None
    ) -> Any: ...


# -- request and response models ----------------------------------------------------------------
class ProductScore(BaseModel):
    product_id: str
    score: float
    title: str | None = None


class ReasonOut(BaseModel):
    kind: str
    text: str
    strength: float
    path: list[dict[str, str]]
    evidence: dict[str, Any] = {}


class ExplanationOut(BaseModel):
    product_id: str
    product_title: str | None
    user_id: str | None = None
    basket: list[str] = []
    summary: str
    reasons: list[ReasonOut]

    @classmethod
    def of(cls, e: Explanation) -> ExplanationOut:
        reasons = [ReasonOut(**asdict(r)) for r in e.reasons]
        return cls(product_id=e.product_id, product_title=e.product_title, user_id=e.user_id,
                   basket=list(e.basket), summary=e.summary, reasons=reasons)  # fmt: skip


class RecommendedItem(ProductScore):
    rank: int
    price: float | None = None
    model_reasons: list[str] = []
    explanation: ExplanationOut | None = None


class Recommendations(BaseModel):
    user_id: str
    items: list[RecommendedItem]


class ScoreRequest(BaseModel):
    user_id: str = Field(min_length=1)
    product_ids: list[str] = Field(min_length=1, max_length=1000)


class Scores(BaseModel):
    user_id: str
    scores: list[ProductScore]


class BasketRequest(BaseModel):
    product_ids: list[str] = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)
    max_price: float | None = Field(None, gt=0)
    category: str | None = None
    explain: bool = False


class SessionRequest(BaseModel):
    product_ids: list[str] = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)
    explain: bool = True


class BasketItems(BaseModel):
    basket: list[str]
    items: list[RecommendedItem]


class BundleItem(ProductScore):
    price: float | None = None
    reasons: list[str] = []


class BundleOut(BaseModel):
    bundle_id: str | None = None
    title: str | None = None
    source: str | None = None
    score: float | None = None
    total_price: float | None = None
    products: list[BundleItem]
    reasons: list[str] = []


class ComposeRequest(BaseModel):
    user_id: str = Field(min_length=1)
    anchor_product_id: str | None = Field(
        None,
        validation_alias=AliasChoices("anchor_product_id", "seed_product_id"),
        description="a product id to build the bundle around (its first item); the old name seed_product_id is still read",
    )
    size: int = Field(3, ge=2, le=20)
    budget: float | None = Field(None, gt=0)


class Health(BaseModel):
    status: str
    neo4j: bool
    neo4j_uri: str
    neo4j_error: str | None = None
    model_configured: bool
    model_loaded: bool
    bundles_configured: bool
    bundles_loaded: bool


# -- turning provider results into response models ----------------------------------------------
def _field(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


def as_product_score(obj: Any) -> ProductScore:
    """A Recommendation-like object, mapping, or bare id → ProductScore."""
    if isinstance(obj, str):
        return ProductScore(product_id=obj, score=0.0)
    score = _field(obj, "score", default=0.0)
    return ProductScore(product_id=str(_field(obj, "product_id", "id")), score=float(score or 0.0),
                        title=_field(obj, "title"))  # fmt: skip


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list | tuple) else []


def as_items(raw: Any) -> list[Any]:
    """The list inside a provider's answer (a list, or an object with ``suggestions``/``items``)."""
    inner = _field(raw, "suggestions", "items")
    return list(inner if inner is not None and not isinstance(raw, list | tuple) else raw)


def as_recommended(obj: Any, rank: int) -> RecommendedItem:
    """A provider's item → RecommendedItem, keeping its price and its own reasons."""
    base = as_product_score(obj)
    price = None if isinstance(obj, str) else _field(obj, "price")
    reasons = [] if isinstance(obj, str) else _strings(_field(obj, "reasons", default=[]))
    return RecommendedItem(**base.model_dump(), rank=rank, price=price, model_reasons=reasons)


def as_scores(product_ids: Sequence[str], raw: Any) -> list[ProductScore]:
    """Scores from a recommender: a mapping id→score, a sequence of numbers (tensor/array) or of items."""
    if hasattr(raw, "tolist"):
        raw = raw.tolist()
    if isinstance(raw, Mapping):
        return [ProductScore(product_id=p, score=float(raw[p])) for p in product_ids if p in raw]
    items = list(raw)
    if all(isinstance(x, int | float) for x in items):
        return [ProductScore(product_id=p, score=float(s)) for p, s in zip(product_ids, items, strict=True)]
    return [as_product_score(x) for x in items]


def as_bundle(obj: Any) -> BundleOut:
    """A bundle-like object (dataclass, mapping) with products/product_ids/items → BundleOut."""
    data = asdict(obj) if is_dataclass(obj) and not isinstance(obj, type) else obj
    products = []
    for p in _field(data, "products", "items", "product_ids", default=[]) or []:
        base = as_product_score(p)
        extra = {} if isinstance(p, str) else {
            "price": _field(p, "price"), "reasons": _strings(_field(p, "reasons", default=[])),
        }  # fmt: skip
        products.append(BundleItem(**base.model_dump(), **extra))
    return BundleOut(
        bundle_id=_field(data, "bundle_id", "id"),
        title=_field(data, "title"),
        source=_field(data, "source"),
        score=_field(data, "score", "total_score"),
        total_price=_field(data, "total_price", "price"),
        products=products,
        reasons=_strings(_field(data, "reasons", default=[])),
    )

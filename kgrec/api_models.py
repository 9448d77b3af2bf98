"""What the HTTP API speaks: request and response models, each built from the serving layer's typed
answers by an explicit ``of`` (no guessing of shapes).

Sizes are bounded here: ``k`` ≤ 100, ≤ 200 products in a basket or session, ≤ 1,000 in a score
request, ids ≤ 200 characters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, BaseModel, Field, StringConstraints

from kgrec.queries.explain import Explanation
from kgrec.serving.types import ScoredProduct

if TYPE_CHECKING:
    from kgrec.gnn.bundle_recs import BundleRecommendation, SessionBundlePage
    from kgrec.gnn.bundles import ComposedBundle

#: An id in a request body: 1–200 characters.
Id = Annotated[str, StringConstraints(min_length=1, max_length=200)]


# -- request and response models ----------------------------------------------------------------
class ProductScore(BaseModel):
    product_id: str
    score: float
    title: str | None = None

    @classmethod
    def of(cls, p: ScoredProduct) -> ProductScore:
        return cls(product_id=p.product_id, score=p.score, title=p.title)


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
        reasons = [ReasonOut(kind=r.kind, text=r.text, strength=r.strength, evidence=r.evidence,
                             path=[{"label": n.label, "id": n.id} for n in r.path]) for r in e.reasons]  # fmt: skip
        return cls(product_id=e.product_id, product_title=e.product_title, user_id=e.user_id,
                   basket=list(e.basket), summary=e.summary, reasons=reasons)  # fmt: skip


class RecommendedItem(ProductScore):
    rank: int
    price: float | None = None
    model_reasons: list[str] = []
    explanation: ExplanationOut | None = None

    @classmethod
    def of(cls, p: ScoredProduct, explanation: Explanation | None = None) -> RecommendedItem:
        return cls(product_id=p.product_id, score=p.score, title=p.title, rank=p.rank, price=p.price,
                   model_reasons=list(p.reasons), explanation=ExplanationOut.of(explanation) if explanation else None)  # fmt: skip


class Recommendations(BaseModel):
    user_id: str
    items: list[RecommendedItem]
    note: str | None = Field(None, description="why the list is empty or short, and what to do")


class ScoreRequest(BaseModel):
    user_id: Id
    product_ids: list[Id] = Field(min_length=1, max_length=1000)


class Scores(BaseModel):
    user_id: str
    scores: list[ProductScore]


class BasketRequest(BaseModel):
    product_ids: list[Id] = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)
    max_price: float | None = Field(None, gt=0)
    category: str | None = Field(None, max_length=500)
    explain: bool = False


class SessionRequest(BaseModel):
    product_ids: list[Id] = Field(min_length=1, max_length=200)
    k: int = Field(10, ge=1, le=100)
    explain: bool = True


class BasketItems(BaseModel):
    basket: list[str]
    items: list[RecommendedItem]
    note: str | None = None


class WriteBackRequest(BaseModel):
    user_ids: list[Id] | None = Field(None, max_length=10_000, description="users to store; omitted: every user")
    k: int = Field(10, ge=1, le=100)


class WriteBackOut(BaseModel):
    users: int
    relationships: int
    model: str
    at: str
    skipped: list[str] = []


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

    @classmethod
    def of_recommendation(cls, b: BundleRecommendation, facts: dict[str, tuple[str | None, float | None]]) -> BundleOut:
        """A recommended Bundle node; ``facts`` gives (title, price) of its products."""
        products = [BundleItem(product_id=p, score=0.0, title=facts.get(p, (None, None))[0],
                               price=facts.get(p, (None, None))[1]) for p in b.items]  # fmt: skip
        return cls(bundle_id=b.bundle_id, title=b.title, source=b.source, score=b.score, products=products,
                   reasons=list(b.reasons))  # fmt: skip

    @classmethod
    def of_composed(cls, b: ComposedBundle) -> BundleOut:
        products = [BundleItem(product_id=i.product_id, score=i.score, title=i.title, price=i.price,
                               reasons=list(i.reasons)) for i in b.items]  # fmt: skip
        return cls(score=b.total_score, total_price=b.total_price, products=products, source="composed")


class ComposeRequest(BaseModel):
    user_id: Id
    anchor_product_id: str | None = Field(
        None,
        validation_alias=AliasChoices("anchor_product_id", "seed_product_id"),
        description="a product id to build the bundle around (its first item); the old name seed_product_id is still read",
    )
    size: int = Field(3, ge=2, le=20)
    budget: float | None = Field(None, gt=0)


class SessionBundlesRequest(BaseModel):
    product_ids: list[Id] = Field(min_length=1, max_length=200, description="the session's products")
    k: int = Field(5, ge=1, le=50)
    compose_size: int = Field(
        3, ge=0, le=20, description="products to add in a bundle built around the session (0: none)"
    )
    budget: float | None = Field(None, gt=0, description="ceiling on the composed bundle's total price")


class SessionBundles(BaseModel):
    basket: list[str]
    items: list[BundleOut]
    how: str = Field(description="the score parts fused to rank the bundles")
    composed: BundleOut | None = None
    note: str | None = Field(None, description="why the list is empty, and what to do")

    @classmethod
    def of(cls, page: SessionBundlePage, facts: dict[str, tuple[str | None, float | None]]) -> SessionBundles:
        """The page; ``facts`` gives (title, price) of the recommended bundles' products."""
        composed = None
        if page.composed is not None:
            c = page.composed
            products = [BundleItem(product_id=i.product_id, score=i.score, title=i.title, price=i.price,
                                   reasons=list(i.reasons)) for i in c.items]  # fmt: skip
            composed = BundleOut(score=c.total_score, total_price=c.total_price, products=products, source="composed")
        return cls(basket=page.basket, items=[BundleOut.of_recommendation(b, facts) for b in page.items],
                   how=page.how, composed=composed, note=page.note)  # fmt: skip


class Health(BaseModel):
    status: str
    neo4j: bool
    neo4j_uri: str
    neo4j_error: str | None = None
    model_configured: bool
    model_loaded: bool
    model_error: str | None = None
    bundles_configured: bool
    bundles_loaded: bool
    refreshed: str | None = Field(None, description="what the last refresh of the serving index did")
    path_index_loaded: bool = Field(
        False, description="page explanations come from the in-memory path index (else two Cypher queries)"
    )

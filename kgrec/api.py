"""The HTTP API: ``create_app(settings, recommender_provider, bundles_provider)`` builds a FastAPI app.

Thin by design: routes call ``queries`` (graph reads, explanations) and the model objects the
providers return. Models are loaded lazily on first use; a missing provider answers 503 with what
to run. Errors map to HTTP: UnknownEntityError 404, bad input 400, Neo4j/model unavailable 503.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Generic, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from kgrec.api_models import (
    BasketItems,
    BasketRequest,
    BundleOut,
    BundlesLike,
    ComposeRequest,
    ExplanationOut,
    Health,
    ProductScore,
    Recommendations,
    RecommendedItem,
    RecommenderLike,
    ScoreRequest,
    Scores,
    SessionRecommenderLike,
    SessionRequest,
    as_bundle,
    as_items,
    as_product_score,
    as_recommended,
    as_scores,
)
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError, ModelError, Neo4jUnavailableError, NotConnectedError, UnknownEntityError
from kgrec.queries import results
from kgrec.queries.explain import explain, explain_basket
from kgrec.queries.runner import QueryError, QueryParameterError, run

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent / "web"
T = TypeVar("T")
K = Annotated[int, Query(ge=1, le=100, description="how many items")]


class ServiceNotReadyError(ModelError):
    """A model the endpoint needs is not configured or cannot be loaded (HTTP 503)."""


class Lazy(Generic[T]):
    """A provider called once, on first use, thread-safely; failures are retried on the next call.

    A provider takes no argument, or one: the app's connected GraphConnection.
    """

    def __init__(self, provider: Callable[..., T] | None, what: str, hint: str) -> None:
        self.provider, self.what, self.hint = provider, what, hint
        self._value: T | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.provider is not None

    @property
    def loaded(self) -> bool:
        return self._value is not None

    def get(self, conn: Callable[[], GraphConnection]) -> T:
        if self.provider is None:
            raise ServiceNotReadyError(f"no {self.what} is loaded: {self.hint}")
        with self._lock:
            if self._value is None:
                params = inspect.signature(self.provider).parameters.values()
                wants_conn = any(p.default is p.empty and p.kind != p.VAR_KEYWORD for p in params)
                try:
                    self._value = self.provider(conn()) if wants_conn else self.provider()
                except KgrecError as exc:
                    raise ServiceNotReadyError(f"the {self.what} could not be loaded: {exc}") from exc
            return self._value


# -- the app ------------------------------------------------------------------------------------
STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (UnknownEntityError, 404),
    (QueryParameterError, 400),
    (QueryError, 500),
    (Neo4jUnavailableError, 503),
    (NotConnectedError, 503),
    (ModelError, 503),
    (KgrecError, 400),
)


def _error(status: int, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=status)


class AppState:
    """What the routes share: settings, the graph connection, the lazily loaded models."""

    def __init__(self, settings: Settings, recommender: Lazy[RecommenderLike], bundles: Lazy[BundlesLike]) -> None:
        self.settings = settings
        self.conn: GraphConnection | None = None  # made on first use: no network in constructors
        self.recommender = recommender
        self.bundles = bundles
        self._lock = threading.Lock()

    @property
    def neo4j_uri(self) -> str:
        return self.settings.neo4j_uri or self.settings.local_server().bolt_uri

    def connection(self) -> GraphConnection:
        """The connected graph; (re)connects if the server was down before (Neo4jUnavailableError)."""
        with self._lock:
            if self.conn is None:
                self.conn = GraphConnection(self.settings.credentials())
            return self.conn.connect()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def create_app(
    settings: Settings | None = None,
    recommender_provider: Callable[[], RecommenderLike] | Callable[[GraphConnection], RecommenderLike] | None = None,
    bundles_provider: Callable[[], BundlesLike] | Callable[[GraphConnection], BundlesLike] | None = None,
    preload: bool = False,
) -> FastAPI:
    """The kgrec API. Providers are called once, on the first request that needs them, with the
    app's connection if they take an argument (``lambda conn: Recommender.load(p).refresh(conn)``).
    With ``preload`` they are called at start-up instead (a failure is logged; routes answer 503)."""
    settings = settings or Settings()
    state = AppState(
        settings,
        Lazy(recommender_provider, "recommender", "run `kgrec train` first, then `kgrec serve --checkpoint PATH`"),
        Lazy(bundles_provider, "bundle recommender", "run `kgrec train` first, then `kgrec serve --checkpoint PATH`"),
    )
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            state.connection()
        except Neo4jUnavailableError as exc:  # serve anyway: /health says why, routes answer 503
            log.warning("starting without Neo4j: %s", exc)
        for lazy in (state.recommender, state.bundles) if preload else ():
            if lazy.configured:
                try:
                    lazy.get(state.connection)
                except KgrecError as exc:
                    log.warning("%s not loaded at start-up: %s", lazy.what, exc)
        yield
        state.close()

    app = FastAPI(title="kgrec", version="0.1.0", lifespan=lifespan,
                  description="Knowledge-graph product and bundle recommendations, with explanations.")  # fmt: skip
    app.state.kgrec = state

    @app.exception_handler(KgrecError)
    async def kgrec_error(request: Request, exc: KgrecError) -> JSONResponse:
        status = next(code for kind, code in STATUS_OF if isinstance(exc, kind))
        return _error(status, exc)

    @app.exception_handler(ServiceUnavailable)
    @app.exception_handler(SessionExpired)
    async def neo4j_down(request: Request, exc: Exception) -> JSONResponse:
        return _error(503, Neo4jUnavailableError(f"Neo4j stopped answering ({exc}): check `kgrec db status`"))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse({"error": "BadRequest", "detail": problems}, status_code=400)

    _add_routes(app, state)
    return app


def _explained(conn: GraphConnection, user_id: str | None, basket: list[str] | None, item: RecommendedItem,
               limit: int) -> RecommendedItem:  # fmt: skip
    """The item with its graph explanation; an id the graph lacks gets none (model ahead of graph)."""
    try:
        if basket:
            item.explanation = ExplanationOut.of(explain_basket(conn, basket, item.product_id, limit))
        elif user_id is not None:
            item.explanation = ExplanationOut.of(explain(conn, user_id, item.product_id, limit))
    except UnknownEntityError as exc:
        log.info("no explanation for %s: %s", item.product_id, exc)
    return item


def _with_titles(conn: GraphConnection, bundles: list[BundleOut]) -> list[BundleOut]:
    """Fill in titles and prices of bundle products that the provider gave as bare ids."""
    bare = sorted({p.product_id for b in bundles for p in b.products if p.title is None})
    if bare:
        known = {r["product_id"]: r for r in run(conn, "product_titles", product_ids=bare)}
        for product in (p for b in bundles for p in b.products if p.product_id in known):
            product.title = product.title or known[product.product_id]["title"]
            product.price = product.price if product.price is not None else known[product.product_id]["price"]
    return bundles


def _add_routes(app: FastAPI, state: AppState) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((WEB_DIR / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> JSONResponse:
        """Is Neo4j reachable, are the models loaded? 200 when Neo4j answers, else 503."""
        error = None
        try:
            state.connection().driver.verify_connectivity()
        except (KgrecError, ServiceUnavailable, OSError) as exc:
            error = str(exc)
        body = Health(
            status="ok" if error is None else "degraded", neo4j=error is None,
            neo4j_uri=state.neo4j_uri, neo4j_error=error,
            model_configured=state.recommender.configured, model_loaded=state.recommender.loaded,
            bundles_configured=state.bundles.configured, bundles_loaded=state.bundles.loaded,
        )  # fmt: skip
        return JSONResponse(body.model_dump(), status_code=200 if error is None else 503)

    @app.get("/graph/overview", tags=["graph"])
    def overview() -> dict[str, dict[str, int]]:
        """Node counts per label and relationship counts per type."""
        return results.graph_overview(state.connection())

    @app.get("/graph/neighbourhood", response_model=results.Neighbourhood, tags=["graph"])
    def neighbourhood(
        id: Annotated[str, Query(min_length=1, description="the node's key (Product/User id, Category path…)")],
        label: Annotated[str, Query(description="a kg.schema label")] = "Product",
        limit: Annotated[int, Query(ge=1, le=500)] = 25,
    ) -> results.Neighbourhood:
        """A node and up to ``limit`` neighbours (relationship types take turns), for the explorer."""
        return results.neighbourhood(state.connection(), label, id, limit)

    @app.get("/products/search", response_model=list[results.ProductHit], tags=["products"])
    def search(q: Annotated[str, Query(min_length=1, max_length=200)], k: K = 10) -> list[results.ProductHit]:
        """Full-text search over product titles and descriptions."""
        return results.search_products(state.connection(), q, k)

    @app.get("/products/popular", response_model=list[results.ProductHit], tags=["products"])
    def popular(k: K = 10) -> list[results.ProductHit]:
        """The most-bought products (score = number of buyers)."""
        return results.popular_products(state.connection(), k)

    @app.get("/products/{product_id}", response_model=results.ProductDetail, tags=["products"])
    def product(product_id: str) -> results.ProductDetail:
        """A product with categories, brands, attributes, bundles and top co-purchases."""
        return results.product_detail(state.connection(), product_id)

    @app.get("/products/{product_id}/similar", response_model=list[ProductScore], tags=["products"])
    def similar(product_id: str, k: K = 10) -> list[ProductScore]:
        """Products the model finds similar (embedding neighbours)."""
        results.product_detail(state.connection(), product_id, with_bought_with=0)  # 404 if unknown
        return [as_product_score(x) for x in state.recommender.get(state.connection).similar_products(product_id, k)]

    @app.get("/users/{user_id}", response_model=results.UserSummary, tags=["users"])
    def user(user_id: str) -> results.UserSummary:
        """A user's activity counts."""
        return results.user_summary(state.connection(), user_id)

    @app.get("/users/{user_id}/history", response_model=list[results.HistoryItem], tags=["users"])
    def history(user_id: str, k: Annotated[int, Query(ge=1, le=500)] = 50) -> list[results.HistoryItem]:
        """Products the user bought, most recent first."""
        conn = state.connection()
        results.user_summary(conn, user_id)  # 404 if unknown
        return results.user_history(conn, user_id, k)

    @app.get("/users/{user_id}/recommendations", response_model=Recommendations, tags=["users"])
    def recommendations(
        user_id: str, k: K = 10, explain: bool = True, reasons: Annotated[int, Query(ge=1, le=10)] = 2
    ) -> Recommendations:
        """Top-k products for a user from the model, each with ranked reasons when ``explain``."""
        raw = state.recommender.get(state.connection).recommend(user_id, k)
        items = [as_recommended(x, n) for n, x in enumerate(as_items(raw), 1)]
        if explain:
            items = [_explained(state.connection(), user_id, None, i, reasons) for i in items]
        return Recommendations(user_id=user_id, items=items)

    @app.post("/recommendations/session", response_model=BasketItems, tags=["users"])
    def session(request: SessionRequest) -> BasketItems:
        """Cold start: products for a visitor not in the graph, from the products in their session."""
        model = state.recommender.get(state.connection)
        if not isinstance(model, SessionRecommenderLike):
            raise ServiceNotReadyError("the loaded recommender has no recommend_for_basket: use /basket/complete")
        raw = model.recommend_for_basket(request.product_ids, request.k)
        items = [as_recommended(x, n) for n, x in enumerate(as_items(raw), 1)]
        if request.explain:
            items = [_explained(state.connection(), None, request.product_ids, i, 2) for i in items]
        return BasketItems(basket=request.product_ids, items=items)

    @app.post("/score", response_model=Scores, tags=["users"])
    def score(request: ScoreRequest) -> Scores:
        """The model's score of each given product for a user."""
        raw = state.recommender.get(state.connection).score(request.user_id, request.product_ids)
        return Scores(user_id=request.user_id, scores=as_scores(request.product_ids, raw))

    @app.get("/explain", response_model=ExplanationOut, tags=["explanations"])
    def explain_one(
        user_id: Annotated[str, Query(min_length=1)],
        product_id: Annotated[str, Query(min_length=1)],
        limit: Annotated[int, Query(ge=1, le=10)] = 3,
    ) -> ExplanationOut:
        """Ranked reasons, from graph paths, why a product suits a user."""
        return ExplanationOut.of(explain(state.connection(), user_id, product_id, limit))

    @app.post("/basket/complete", response_model=BasketItems, tags=["bundles"])
    def complete(request: BasketRequest) -> BasketItems:
        """Products that complete a basket (bundle model), optionally explained by the basket."""
        raw = state.bundles.get(state.connection).complete_basket(
            request.product_ids, request.k, request.max_price, request.category
        )
        items = [as_recommended(x, n) for n, x in enumerate(as_items(raw), 1)]
        if request.explain:
            items = [_explained(state.connection(), None, request.product_ids, i, 2) for i in items]
        return BasketItems(basket=request.product_ids, items=items)

    @app.get("/users/{user_id}/bundles", response_model=list[BundleOut], tags=["bundles"])
    def user_bundles(user_id: str, k: Annotated[int, Query(ge=1, le=50)] = 5) -> list[BundleOut]:
        """Bundles recommended to a user."""
        raw = state.bundles.get(state.connection).recommend_bundles(user_id, k)
        return _with_titles(state.connection(), [as_bundle(b) for b in as_items(raw)])

    @app.post("/bundles/compose", response_model=BundleOut, tags=["bundles"])
    def compose(request: ComposeRequest) -> BundleOut:
        """A new bundle for a user, around an optional anchor product, within an optional budget."""
        bundle = state.bundles.get(state.connection).compose_bundle(
            request.user_id, request.anchor_product_id, request.size, request.budget
        )
        return _with_titles(state.connection(), [as_bundle(bundle)])[0]

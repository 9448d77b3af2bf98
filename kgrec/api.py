"""The HTTP API: ``create_app(settings, serving)`` builds a FastAPI app over one :class:`Serving`.

Thin by design: graph routes call ``queries``; model routes call the serving layer
(:mod:`kgrec.serving`), whose typed answers become response models through explicit ``of``
constructors. The model is loaded by the app's lifespan in a background thread (``/health``
answers at once and says whether it is loaded), then refreshed from the graph every
``refresh_s`` seconds (incrementally: fresh orders and products show without a restart).

Security: bind 127.0.0.1 (``kgrec serve``); with a token every route but ``/health`` needs
``Authorization: Bearer <token>``; request bodies are capped at :data:`MAX_BODY_BYTES` and list
sizes in the request models; errors carry a class name and what to do, never a traceback or a
driver message. A dropped Neo4j connection answers 503 fast (short driver timeouts) and recovers by
itself when the server is back. Routes are sync functions run on Starlette's worker pool, so
concurrent requests do not queue behind one another.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from kgrec.api_models import (
    BasketItems,
    BasketRequest,
    BundleOut,
    ComposeRequest,
    ExplanationOut,
    Health,
    ProductScore,
    Recommendations,
    RecommendedItem,
    ScoreRequest,
    Scores,
    SessionBundles,
    SessionBundlesRequest,
    SessionRequest,
    WriteBackOut,
    WriteBackRequest,
)
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError, ModelError, Neo4jUnavailableError, NotConnectedError, UnknownEntityError
from kgrec.queries import results
from kgrec.queries.runner import QueryError, QueryParameterError, run
from kgrec.serving import Ranked, Serving, ServingNotReadyError

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent / "web"
K = Annotated[int, Query(ge=1, le=100, description="how many items")]
#: Largest request body accepted (bytes); larger ones answer 413.
MAX_BODY_BYTES = 64 * 1024
#: Driver settings of the API's connection: fail in seconds, not a minute, when Neo4j is gone.
FAIL_FAST = {"connection_timeout": 3.0, "connection_acquisition_timeout": 3.0, "max_transaction_retry_time": 1.0}
NEO4J_DOWN = "Neo4j is not answering: check `kgrec db status` (or KGREC_NEO4J_URI); retry when it is back"

STATUS_OF: tuple[tuple[type[Exception], int], ...] = (
    (UnknownEntityError, 404),
    (QueryParameterError, 400),
    (QueryError, 500),
    (Neo4jUnavailableError, 503),
    (NotConnectedError, 503),
    (ModelError, 503),
    (KgrecError, 400),
)


def _error(status: int, name: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": name, "detail": detail}, status_code=status)


class AppState:
    """What the routes share: settings, the graph connection (reconnecting) and the serving layer."""

    def __init__(self, settings: Settings, serving: Serving | None, checkpoint: Path | None) -> None:
        self.settings = settings
        self.conn: GraphConnection | None = None  # made on first use: no network in constructors
        self.serving = serving or Serving(
            self.connection, checkpoint, settings.device, seed=settings.seed, path_index=True
        )
        self._lock = threading.Lock()
        self.stop = threading.Event()

    @property
    def neo4j_uri(self) -> str:
        return self.settings.neo4j_uri or self.settings.local_server().bolt_uri

    def connection(self) -> GraphConnection:
        """The connected graph; (re)connects if the server was down before (Neo4jUnavailableError)."""
        with self._lock:
            if self.conn is None:
                self.conn = GraphConnection(self.settings.credentials(), **FAIL_FAST)
            return self.conn.connect()

    def close(self) -> None:
        self.stop.set()
        if self.conn is not None:
            self.conn.close()

    def keep_fresh(self, every_s: float) -> None:
        """Load the model, then refresh it from the graph every ``every_s`` seconds until stopped."""
        serving = self.serving
        while not self.stop.is_set():
            try:
                report = serving.load()
                if report.kind != "unchanged":
                    log.info("serving index %s in %.1f s %s", report.kind, report.seconds, report.reason)
            except (KgrecError, DriverError, Neo4jError, OSError) as exc:
                serving.load_error = str(exc) if isinstance(exc, KgrecError) else NEO4J_DOWN
                log.warning("serving index not refreshed: %s", serving.load_error)
            if every_s <= 0 and serving.index is not None:
                return
            self.stop.wait(every_s if every_s > 0 else 2.0)


def create_app(settings: Settings | None = None, checkpoint: Path | None = None, *, serving: Serving | None = None,
               token: str | None = None, refresh_s: float = 10.0, warm_bundles: bool = False) -> FastAPI:  # fmt: skip
    """The kgrec API serving ``checkpoint`` over the app's connection (None: graph and bundle routes
    only; model routes answer 503 with what to run), or over a ready ``serving``. ``token`` (default:
    ``Settings.api_token``): bearer token required on every route but /health. ``refresh_s``: how
    often the serving index is refreshed from the graph (0: load once)."""
    settings = settings or Settings()
    token = token if token is not None else (settings.api_token.get_secret_value() if settings.api_token else None)
    state = AppState(settings, serving, checkpoint)
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            state.connection()
        except Neo4jUnavailableError as exc:  # serve anyway: /health says why, routes answer 503
            log.warning("starting without Neo4j: %s", exc)
        threading.Thread(
            target=_start_background, args=(state, refresh_s, warm_bundles), name="kgrec-start", daemon=True
        ).start()
        yield
        state.close()

    app = FastAPI(title="kgrec", version="0.2.0", lifespan=lifespan,
                  description="Knowledge-graph product and bundle recommendations, with explanations.")  # fmt: skip
    app.state.kgrec = state

    app.add_middleware(Guard, token=token)

    @app.exception_handler(KgrecError)
    async def kgrec_error(request: Request, exc: KgrecError) -> JSONResponse:
        status = next(code for kind, code in STATUS_OF if isinstance(exc, kind))
        if status == 500:
            log.error("query error on %s: %s", request.url.path, exc)
            return _error(500, type(exc).__name__, "a named query failed: this is a bug, please report it")
        return _error(status, type(exc).__name__, str(exc))

    @app.exception_handler(ServiceUnavailable)
    @app.exception_handler(SessionExpired)
    @app.exception_handler(DriverError)
    @app.exception_handler(Neo4jError)
    async def neo4j_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("Neo4j error on %s: %r", request.url.path, exc)
        return _error(503, "Neo4jUnavailableError", NEO4J_DOWN)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _error(400, "BadRequest", problems[:1000])

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, "InternalError", "unexpected error: the server log has the details")

    _add_routes(app, state)
    return app


def app_from_settings() -> FastAPI:
    """The app of one ``kgrec serve --workers N`` worker process (uvicorn calls it in each worker):
    checkpoint, token and refresh period from the ``KGREC_SERVE_*`` settings the command set."""
    settings = Settings()
    return create_app(settings, settings.serve_checkpoint, refresh_s=settings.serve_refresh_s,
                      warm_bundles=settings.serve_bundle_gnn)  # fmt: skip


#: Routes answered without the bearer token: the health probe and the explorer page (no data in it).
OPEN_PATHS = frozenset({"/health", "/"})


class Guard:
    """Pure ASGI middleware (cheaper per request than ``BaseHTTPMiddleware``): the bearer token on every
    route but ``OPEN_PATHS`` (/health, and / whose page holds no data and sends the token from
    ``/#token=...`` itself), and the request-body limit (411 without Content-Length, 413 over the limit)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.expected = app, f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = None
        given = headers.get(b"authorization", b"")
        if (
            self.expected is not None
            and scope["path"] not in OPEN_PATHS
            and not hmac.compare_digest(given, self.expected)
        ):
            refusal = _error(401, "Unauthorized", "send the API token as `Authorization: Bearer <token>`")
            refusal.headers["WWW-Authenticate"] = "Bearer"
        if refusal is None and scope["method"] in ("POST", "PUT", "PATCH"):
            size = headers.get(b"content-length")
            if size is None:
                refusal = _error(411, "LengthRequired", "send a Content-Length header with the JSON body")
            elif not size.isdigit() or int(size) > MAX_BODY_BYTES:
                refusal = _error(413, "PayloadTooLarge", f"request bodies are limited to {MAX_BODY_BYTES:,} bytes")
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _start_background(state: AppState, refresh_s: float, warm_bundles: bool) -> None:
    """Import the model stack once, in one thread, then start the loader and the bundle warm-up.

    Two threads importing torch_geometric at the same moment can hit Python's import-deadlock
    detection (``_DeadlockError``) and leave the model unloaded for good; importing it first here
    makes the two threads find it in ``sys.modules``.
    """
    if state.serving.configured or warm_bundles:
        import torch_geometric  # noqa: F401  (see the docstring)
    if state.serving.configured:
        threading.Thread(target=state.keep_fresh, args=(refresh_s,), name="kgrec-serving", daemon=True).start()
    if warm_bundles:
        threading.Thread(target=_warm_bundles, args=(state.serving,), name="kgrec-bundles", daemon=True).start()


def _warm_bundles(serving: Serving) -> None:
    try:
        serving.bundle_model()
    except (KgrecError, DriverError, Neo4jError) as exc:
        log.warning("bundle GNN not trained: %s", exc)


def _json(body: BaseModel) -> Response:
    """``body`` as JSON, serialised once by pydantic (a returned model would be dumped, validated
    again and serialised by FastAPI: a millisecond per explained page)."""
    return Response(body.model_dump_json(), media_type="application/json")


def _with_explanations(serving: Serving, page: Ranked, explain: bool, reasons: int) -> list[RecommendedItem]:
    found = serving.explain_page(page, reasons) if explain and page.items else {}
    return [RecommendedItem.of(p, found.get(p.product_id)) for p in page.items]


def _add_routes(app: FastAPI, state: AppState) -> None:
    serving = state.serving

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((WEB_DIR / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> JSONResponse:
        """Is Neo4j reachable, is the model loaded? 200 when Neo4j answers, else 503."""
        error = None
        try:
            state.connection().driver.verify_connectivity()
        except (KgrecError, DriverError, Neo4jError, OSError) as exc:
            error = str(exc) if isinstance(exc, Neo4jUnavailableError) else NEO4J_DOWN
        last = serving.last_refresh
        body = Health(
            status="ok" if error is None else "degraded", neo4j=error is None,
            neo4j_uri=state.neo4j_uri, neo4j_error=error,
            model_configured=serving.configured, model_loaded=serving.index is not None,
            model_error=serving.load_error,
            bundles_configured=True, bundles_loaded=serving.index is not None or not serving.configured,
            refreshed=f"{last.kind} ({last.seconds:.2f} s)" if last else None,
            path_index_loaded=serving.paths is not None,
        )  # fmt: skip
        return JSONResponse(body.model_dump(), status_code=200 if error is None else 503)

    @app.get("/graph/overview", tags=["graph"])
    def overview() -> dict[str, dict[str, int]]:
        """Node counts per label and relationship counts per type."""
        return results.graph_overview(state.connection())

    @app.get("/graph/neighbourhood", response_model=results.Neighbourhood, tags=["graph"])
    def neighbourhood(
        id: Annotated[
            str, Query(min_length=1, max_length=500, description="the node's key (Product/User id, Category path…)")
        ],
        label: Annotated[str, Query(max_length=50, description="a kg.schema label")] = "Product",
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
    async def similar(product_id: str, k: K = 10) -> list[ProductScore]:
        """Products that go with this one according to the model (the product as a one-item basket;
        memory only, so answered on the event loop)."""
        return [ProductScore.of(p) for p in serving.similar(product_id, k).items]

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
    async def recommendations(
        user_id: str, k: K = 10, explain: bool = True, reasons: Annotated[int, Query(ge=1, le=10)] = 2
    ) -> Response:
        """Top-k products for a user from the model, each with ranked reasons when ``explain``
        (gathered for the whole page from the in-memory path index, or in two batched queries).

        Answered on the event loop when nothing needs the database (a few milliseconds of numpy:
        requests are served in arrival order instead of contending for the GIL in the thread
        pool); the Cypher explanations run in the thread pool."""
        page = serving.recommend(user_id, k)
        found = serving.explain_page_in_memory(page, reasons) if explain and page.items else {}
        if found is None:
            found = await run_in_threadpool(serving.explain_page, page, reasons)
        items = [RecommendedItem.of(p, found.get(p.product_id)) for p in page.items]
        return _json(Recommendations(user_id=user_id, items=items, note=page.note))

    @app.post("/recommendations/session", response_model=BasketItems, tags=["users"])
    def session(request: SessionRequest) -> BasketItems:
        """Cold start: products for a visitor not in the graph, from the products in their session."""
        page = serving.recommend_for_basket(request.product_ids, request.k)
        items = _with_explanations(serving, page, request.explain, 2)
        return BasketItems(basket=list(page.basket), items=items, note=page.note)

    @app.post("/score", response_model=Scores, tags=["users"])
    def score(request: ScoreRequest) -> Scores:
        """The model's score of each given product for a user."""
        scored = serving.score(request.user_id, request.product_ids)
        return Scores(user_id=request.user_id, scores=[ProductScore.of(p) for p in scored])

    @app.get("/explain", response_model=ExplanationOut, tags=["explanations"])
    def explain_one(
        user_id: Annotated[str, Query(min_length=1, max_length=200)],
        product_id: Annotated[str, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=10)] = 3,
    ) -> ExplanationOut:
        """Ranked reasons, from graph paths, why a product suits a user."""
        return ExplanationOut.of(serving.explain(user_id, product_id, limit))

    @app.post("/basket/complete", response_model=BasketItems, tags=["bundles"])
    def complete(request: BasketRequest) -> BasketItems:
        """Products that complete a basket (model + precomputed co-purchase lists), optionally explained."""
        page = serving.complete_basket(request.product_ids, request.k, request.max_price, request.category)
        items = _with_explanations(serving, page, request.explain, 2)
        return BasketItems(basket=list(page.basket), items=items, note=page.note)

    @app.get("/users/{user_id}/bundles", response_model=list[BundleOut], tags=["bundles"])
    def user_bundles(user_id: str, k: Annotated[int, Query(ge=1, le=50)] = 5) -> list[BundleOut]:
        """Bundles recommended to a user (the bundle GNN when the graph has user–bundle interactions)."""
        page = serving.recommend_bundles(user_id, k)
        ids = sorted({p for b in page.items for p in b.items})
        facts = {r["product_id"]: (r["title"], r["price"]) for r in run(state.connection(), "product_titles", product_ids=ids)} if ids else {}  # fmt: skip
        return [BundleOut.of_recommendation(b, facts) for b in page.items]

    @app.post("/bundles/session", response_model=SessionBundles, tags=["bundles"])
    def session_bundles(request: SessionBundlesRequest) -> SessionBundles:
        """Bundles for a visitor's session (its products, no user id), and one composed around it."""
        page = serving.recommend_bundles_for_session(request.product_ids, request.k,
                                                     compose_size=request.compose_size, budget=request.budget)  # fmt: skip
        ids = sorted({p for b in page.items for p in b.items})
        facts = {r["product_id"]: (r["title"], r["price"]) for r in run(state.connection(), "product_titles", product_ids=ids)} if ids else {}  # fmt: skip
        return SessionBundles.of(page, facts)

    @app.post("/bundles/compose", response_model=BundleOut, tags=["bundles"])
    def compose(request: ComposeRequest) -> BundleOut:
        """A new bundle for a user, around an optional anchor product, within an optional budget."""
        return BundleOut.of_composed(
            serving.compose_bundle(request.user_id, request.anchor_product_id, request.size, request.budget)
        )

    @app.post("/users/recommendations/write-back", response_model=WriteBackOut, tags=["users"])
    def write_back(request: WriteBackRequest) -> WriteBackOut:
        """Store each user's top-k as (User)-[:RECOMMENDED {score, rank, model, at}]->(Product), replacing old ones."""
        done = serving.write_back(request.user_ids, request.k)
        return WriteBackOut(users=done.users, relationships=done.relationships, model=done.model, at=done.at,
                            skipped=done.skipped[:100])  # fmt: skip


__all__ = ["MAX_BODY_BYTES", "ServingNotReadyError", "create_app"]

"""HTTP app assembly: webhook ingest, query API, health and OpenAPI, with one error translation."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Any

import structlog
from litestar import Litestar, Request, Response, get
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from compliance.http import compliance_router
from contracts.errors import TransientError, error_body
from evaluator.http import evaluator_router
from ingest.http import slack_handlers, webhook_documentation, webhook_endpoint
from ingest.ratelimit import TokenBuckets
from projectors.http import query_router
from replay.http import replay_router
from replay.runs import Runs
from runtime import dead_letters, metrics
from runtime.app import Services, persistent_secret
from runtime.ashby_stats import for_health, reported
from runtime.asyncapi import asyncapi_handlers
from runtime.console import Access, console_handlers
from runtime.http_dlq import dlq_router
from runtime.http_pause import pause_router
from runtime.http_privacy import privacy_router
from runtime.lag import consumer_lag, lagging
from runtime.request_id import RequestIdMiddleware

log = structlog.get_logger(__name__)


def admin_guard(token: str):
    expected = f"Bearer {token}".encode()

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        if connection.scope.get("method") == "OPTIONS":  # says which methods a path has, nothing more
            return
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException("a valid 'Authorization: Bearer <ADMIN_API_TOKEN>' header is required")

    return guard


async def health_report(services: Services) -> tuple[int, dict[str, Any]]:
    report: dict[str, Any] = {"nats": {"connected": services.nc.is_connected}}
    try:
        async with asyncio.timeout(2):
            async with services.pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        report["postgres"] = {"ok": True}
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        report["postgres"] = {"ok": False, "error": type(exc).__name__}
    consumers: dict[str, Any] = {}
    if services.nc.is_connected:
        consumers, failed = await consumer_lag(services.nc.jetstream())
        if failed:
            report["nats"]["error"] = f"consumers of {', '.join(failed)} could not be read"
    report["consumers"] = consumers
    report["effects"] = await _effects(services)
    # requests by endpoint/priority/outcome and the budget's waits: this process's, or those the
    # processes calling Ashby report (the worker roles' process of `autoadvance dev`)
    local = services.ashby_stats()
    ashby = for_health(local, await reported(services.nc.jetstream())
                       if local is None and services.nc.is_connected else {})
    if ashby is not None:
        report["ashby"] = ashby
    healthy = report["nats"]["connected"] and report["postgres"]["ok"] and "error" not in report["nats"]
    behind = lagging(consumers, services.settings.health_max_consumer_lag_s)
    report["dead_letters"] = await _open_dead_letters(services) if healthy else None
    degraded = bool(behind or report["dead_letters"])
    report["status"] = "unavailable" if not healthy else "degraded" if degraded else "ok"
    if behind:  # still 200: webhooks are stored; what reads the models sees them late
        report["degraded"] = {"lagging_consumers": behind,
                              "max_consumer_lag_s": services.settings.health_max_consumer_lag_s}
    return (200 if healthy else 503), report


async def _effects(services: Services) -> dict[str, Any]:
    """The pause switch as every effect consumer sees it (still 200 and `ok` when paused: an operator's choice)."""
    try:
        return (await services.pause().read()).as_dict()
    except TransientError as exc:
        return {"paused": None, "error": str(exc)[:200]}


async def _open_dead_letters(services: Services) -> int | None:
    """Dead letters not retried yet: any makes the service 'degraded' (still 200: it serves)."""
    try:
        async with asyncio.timeout(2):
            return await dead_letters.open_count(services.nc.jetstream(), services.pool)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        log.warning("dead_letter_count_failed", error=type(exc).__name__)
        return None


DOCS_ASSETS = "/schema-assets"


def openapi_config() -> OpenAPIConfig:
    """The document at /schema/openapi.json and Swagger UI at /schema, its script and styles served
    by this process from the `swagger-ui-bundle-v2` wheel (Apache-2.0), so the page works offline."""
    swagger = SwaggerRenderPlugin(path="/", js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                  favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
                                  css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                  standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js")
    return OpenAPIConfig(title="auto-advance", version="0.1.0", path="/schema", render_plugins=[swagger])


def docs_assets() -> Any:
    import swagger_ui_bundle  # type: ignore[import-untyped]

    return create_static_files_router(path=DOCS_ASSETS, directories=[str(swagger_ui_bundle.swagger_ui_path)],
                                      include_in_schema=False)


@get("/", include_in_schema=False)
async def home(request: Request) -> Redirect:
    """People who open the service's address land on the console when there is one, else the docs."""
    paths = {route.path for route in request.app.routes}
    return Redirect("/ui/" if "/ui" in paths or "/ui/" in paths else "/schema")


WEBHOOK_PATH = "/webhooks/ashby"
_WEBHOOK_PATHS = frozenset({WEBHOOK_PATH, WEBHOOK_PATH + "/"})


class _Answer:
    """Notes the status (and the first bytes of the body) of a response on its way out, for metrics."""

    __slots__ = ("_send", "_keep", "status", "body")

    def __init__(self, send: Send, keep_body: bool) -> None:
        self._send, self._keep, self.status, self.body = send, keep_body, 500, b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif self._keep and message["type"] == "http.response.body" and len(self.body) < 256:
            self.body += bytes(message.get("body", b""))[:256]
        await self._send(message)


class HttpApp:
    """The ASGI app uvicorn serves: the Ashby webhook path goes straight to its endpoint (the hot path
    of ingest, see `ingest.http.webhook_endpoint`), everything else (and lifespan) to Litestar."""

    def __init__(self, litestar: Litestar, webhook: ASGIApp) -> None:
        self.litestar = litestar
        self._webhook = webhook
        self._methods: dict[str, set[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.litestar(scope, receive, send)
            return
        webhook = scope["path"] in _WEBHOOK_PATHS
        started, answer = time.perf_counter(), _Answer(send, keep_body=webhook)
        try:
            if webhook:
                await self._webhook(scope, receive, answer.send)
            elif scope["method"] == "OPTIONS":
                await self.litestar(scope, receive, self._with_allow(scope, answer.send))
            else:
                await self.litestar(scope, receive, answer.send)
        finally:
            route = WEBHOOK_PATH if webhook else metrics.route_of(scope)  # type: ignore[arg-type]
            metrics.HTTP_LATENCY.labels(route, scope["method"], str(answer.status)).observe(time.perf_counter() - started)
            if webhook:
                metrics.WEBHOOKS.labels(metrics.webhook_outcome(answer.status, answer.body)).inc()

    def _with_allow(self, scope: Scope, send: Send) -> Send:
        """Litestar's OPTIONS answer names the methods of the first handler group registered for a
        path (GET /api/rulesets was missing beside POST); `Allow` is rewritten from the route."""

        async def sending(message: Message) -> None:
            template = scope.get("path_template")
            if message["type"] == "http.response.start" and template is not None and message["status"] == 204:
                methods = self._methods.get(template)
                if methods is None:
                    methods = set().union(*(r.methods for r in self.litestar.routes
                                            if isinstance(r, HTTPRoute) and r.path_format == template))
                    self._methods[template] = methods
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", ", ".join(sorted(methods)).encode())]}
            await send(message)

        return sending


def create_http_app(services: Services, extra_handlers: list | None = None) -> RequestIdMiddleware:
    settings = services.settings
    admin_token = settings.secret("admin_api_token") or persistent_secret(settings.data_dir, "admin_token")
    webhook_secret = settings.secret("ashby_webhook_secret") or persistent_secret(settings.data_dir, "webhook_secret")
    access = Access(admin_token, settings.secret("viewer_api_token"), settings.console_session_ttl_s)
    guard = access.api_guard(admin_guard(admin_token))

    async def keep_rejected(source: str, reason: str, body: bytes) -> None:
        async with services.pool.acquire() as conn:
            await conn.execute("INSERT INTO rejected_webhooks (source, reason, body) VALUES ($1, $2, $3)",
                               source, reason, body)

    @get("/health", summary="State of NATS, Postgres and consumer lag", tags=["operations"])
    async def health() -> Response:
        status, report = await health_report(services)
        return Response(report, status_code=status)

    @get("/metrics", summary="Prometheus metrics of this process (text format; docs/deploy.md)",
         tags=["operations"], media_type=metrics.CONTENT_TYPE)
    async def metrics_endpoint() -> Response:
        return Response(await metrics.scrape(services), media_type=metrics.CONTENT_TYPE)

    @get("/api/stats", summary="Events applied per read model and each consumer's lag", tags=["operations"],
         guards=[guard])
    async def stats() -> dict[str, Any]:
        async with services.pool.acquire() as conn:
            rows = await conn.fetch("SELECT consumer, applied FROM projection_stats ORDER BY consumer")
        consumers = (await consumer_lag(services.nc.jetstream()))[0] if services.nc.is_connected else {}
        return {"applied": {r["consumer"]: r["applied"] for r in rows}, "consumers": consumers,
                "lagging_consumers": lagging(consumers, settings.health_max_consumer_lag_s)}

    def on_exception(_: Request, exc: Exception) -> Response:
        log.error("http_unhandled_error", error=type(exc).__name__)
        return Response(error_body(500, "internal error"), status_code=500)

    webhook = webhook_endpoint(services.publisher, secret=webhook_secret, rejected=keep_rejected,
                               limiter=TokenBuckets(settings.webhook_rate_limit_per_s, settings.webhook_rate_burst),
                               max_body_bytes=settings.webhook_max_body_bytes)
    # one per process: the API's and the console's
    replays = Runs(services.pool, services.database_url, min_group_size=settings.impact_min_group_size)
    handlers = [
        *slack_handlers(services.publisher, signing_secret=settings.secret("slack_signing_secret")),
        query_router(services.pool, [guard]),
        evaluator_router(services.pool, services.publisher, [guard], clock=lambda: services.clock()),
        replay_router(services.pool, [guard], runs=replays),  # no publisher: a replay cannot publish
        dlq_router(services, [guard]),
        privacy_router(services, [guard]),
        pause_router(services, [guard]),
        compliance_router(services.pool, [guard], min_group_size=settings.impact_min_group_size,
                          interviewer_names=settings.explanation_interviewer_names,
                          candidate_names=services.publisher.vault.name),
        *console_handlers(services.pool, services.publisher, access, lambda: health_report(services),
                          candidate_name=services.publisher.vault.name, runs=replays, pause=services.pause()),
        webhook_documentation(WEBHOOK_PATH),
        health,
        metrics_endpoint,
        stats,
        home,
        docs_assets(),
        *asyncapi_handlers(),
        *(extra_handlers or []),
    ]
    litestar = Litestar(
        route_handlers=handlers,
        openapi_config=openapi_config(),
        exception_handlers={500: on_exception},
        debug=False,
        logging_config=None,  # Litestar's default takes over the root logger (plain INFO lines beside ours)
    )
    return RequestIdMiddleware(HttpApp(litestar, webhook))

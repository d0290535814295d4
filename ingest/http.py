"""HTTP endpoints that turn the outside world into events: the Ashby webhook receiver.

Answers 2xx only after JetStream acknowledged the event; 200 and nothing stored for Ashby's ping
(also when unsigned: Ashby pings when a webhook is set up); 401 bad signature, 400 malformed (raw
delivery kept for inspection), 413 too large, 429 rate limited, 503 when the event could not be
stored so Ashby retries.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol

import orjson
import structlog
from litestar import MediaType, Request, Response, post
from litestar.enums import ParamType, ScopeType
from litestar.exceptions import ServiceUnavailableException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Parameter, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send
from pydantic import BaseModel

from contracts.ashby import WebhookBody
from contracts.envelope import Envelope
from contracts.errors import ErrorBody, InvalidInput, TransientError, error_body
from ingest.ratelimit import TokenBuckets
from ingest.webhook import is_ping, to_envelope, verify_signature_bytes

log = structlog.get_logger(__name__)


class EventSink(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


RejectedSink = Callable[[str, str, bytes], Awaitable[None]]


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, reason), status_code=status, headers=headers or {}, media_type=MediaType.JSON)


def webhook_endpoint(sink: EventSink, *, secret: str | None, rejected: RejectedSink, limiter: TokenBuckets,
                     max_body_bytes: int) -> ASGIApp:
    """POST /webhooks/ashby as a plain ASGI app: the hot path of ingest.

    Measured on 2 cores, Litestar's request/response machinery (parameter parsing, Request and
    Response objects, its router and exception middleware) cost about a third of the time per
    webhook, so the HTTP app hands this path straight to this function, which reads the body and
    writes its answer through ASGI. The checks and their order are those of any route: rate limit,
    size, signature, shape, then the answer only after JetStream's ack. `webhook_documentation` is its
    entry in the OpenAPI document. An unexpected error is answered 500 as
    Litestar's handler would, after `http_unhandled_error` is logged.
    """
    secret_bytes = (secret or "").encode()

    def admit(scope: Scope) -> tuple[_Answer | None, str | None]:
        """Method, rate limit and declared size, before the body is read: an answer if refused,
        else None and the Ashby-Signature header."""
        if scope["type"] == ScopeType.HTTP and scope["method"] == "OPTIONS":
            return _Answer(204, None, ((b"allow", b"OPTIONS, POST"),)), None
        if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
            return _refusal(405, "method not allowed", [(b"allow", b"OPTIONS, POST")]), None
        client = scope.get("client")
        wait = limiter.take(client[0] if client else "unknown", time.monotonic())
        if wait > 0:
            return _refusal(429, "rate limit exceeded", [(b"retry-after", str(max(1, round(wait))).encode())]), None
        signature: str | None = None
        declared = 0
        for name, value in scope["headers"]:
            if name == b"ashby-signature":
                signature = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                declared = int(value) if len(value) < 20 else max_body_bytes + 1
        if declared > max_body_bytes:
            return _refusal(413, f"body larger than {max_body_bytes} bytes"), None
        return None, signature

    def authenticate(body: bytes, signature: str | None) -> _Answer | None:
        """None when the signature is good; else 401, or 200 for Ashby's unsigned set-up ping."""
        if verify_signature_bytes(secret_bytes, body, signature):
            return None
        if signature is None and is_ping(body):  # Ashby's set-up check; a wrongly signed one stays 401
            log.info("webhook_ping_unsigned")
            return _Answer(200, {"status": "pong"})
        log.warning("webhook_signature_rejected", has_header=signature is not None)
        return _refusal(401, "invalid or missing Ashby-Signature")

    async def store(body: bytes) -> _Answer:
        """The delivery as an event, answered 2xx only once JetStream has it."""
        try:
            envelope = to_envelope(body, datetime.now(UTC))
        except InvalidInput as exc:
            log.warning("webhook_rejected", reason=exc.reason[:200])
            try:
                await rejected("ashby", exc.reason, body)
            except Exception as store_exc:  # noqa: BLE001 - keeping the copy is best effort
                log.warning("rejected_webhook_not_kept", error=type(store_exc).__name__)
            return _refusal(400, exc.reason)
        if envelope is None:
            return _Answer(200, {"status": "pong"})
        try:
            seq, duplicate = await sink.publish_event(envelope)
        except TransientError as exc:
            log.warning("webhook_not_stored", event_id=envelope.event_id, error=str(exc))
            return _refusal(503, "event store unavailable, retry later", [(b"retry-after", b"5")])
        log.info("webhook_stored", event_id=envelope.event_id, event_type=envelope.event_type,
                 key=envelope.key, stream_seq=seq, duplicate=duplicate)
        return _Answer(200, {"status": "duplicate" if duplicate else "stored", "event_id": envelope.event_id})

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        answer, signature = admit(scope)
        if answer is None:
            body = await _read_body(receive, max_body_bytes)
            if body is None:
                answer = _refusal(413, f"body larger than {max_body_bytes} bytes")
            else:
                answer = authenticate(body, signature) or await store(body)
        await _send_answer(send, answer)

    async def ashby_webhook(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await handle(scope, receive, tracking_send)
        except Exception as exc:
            log.error("http_unhandled_error", error=type(exc).__name__, path=scope["path"])
            if started:
                raise
            await _send_answer(send, _refusal(500, "internal error"))

    return ashby_webhook


class _Answer(NamedTuple):
    status: int
    body: dict[str, Any] | None  # None: no body (204)
    headers: tuple[tuple[bytes, bytes], ...] = ()


def _refusal(status: int, reason: str, headers: list[tuple[bytes, bytes]] | None = None) -> _Answer:
    return _Answer(status, error_body(status, reason), tuple(headers or ()))


async def _send_answer(send: Send, answer: _Answer) -> None:
    if answer.body is None:
        start: HTTPResponseStartEvent = {"type": "http.response.start", "status": answer.status,
                                         "headers": list(answer.headers)}
        await send(start)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    else:
        await _send_json(send, answer.status, answer.body, list(answer.headers))


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it grows past `limit`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: the client left
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_json(send: Send, status: int, body: dict[str, Any],
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    data = orjson.dumps(body)
    start: HTTPResponseStartEvent = {
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                    *(headers or ())]}
    await send(start)
    await send({"type": "http.response.body", "body": data, "more_body": False})


class WebhookAnswer(BaseModel):
    status: Literal["stored", "duplicate", "pong"]
    event_id: str | None = None


class _WebhookOperation(Operation):
    """The delivery as Ashby sends it: its JSON body, signed with the webhook secret."""

    def __post_init__(self) -> None:
        self.parameters = [Parameter(name="Ashby-Signature", param_in=ParamType.HEADER, required=True,
                                     schema=Schema(type=OpenAPIType.STRING),
                                     description="sha256=<hex HMAC-SHA256 of the raw body>")]


def webhook_documentation(path: str) -> HTTPRouteHandler:
    """The OpenAPI entry of `webhook_endpoint`, which the HTTP app routes to before Litestar (so
    this handler never runs); the document then describes every path the service answers."""

    @post(path, tags=["ingest"], summary="Ashby webhook deliveries (signed with Ashby-Signature)",
          operation_class=_WebhookOperation, status_code=200,
          responses=_errors(s400="not a JSON object with action and data; the raw delivery is kept",
                            s401="invalid or missing Ashby-Signature", s405="method not allowed",
                            s413="body too large", s429="rate limit exceeded (see Retry-After)",
                            s503="event store unavailable, retry later (see Retry-After)"))
    async def ashby_webhook(data: WebhookBody) -> WebhookAnswer:  # pragma: no cover - never routed
        raise ServiceUnavailableException("the HTTP app answers this path itself")

    return ashby_webhook


class _SlackOperation(Operation):
    """The interaction request as Slack sends it: a form whose `payload` field is JSON, signed."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, content={"application/x-www-form-urlencoded": OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.OBJECT, required=["payload"],
                          properties={"payload": Schema(type=OpenAPIType.STRING,
                                                        description="the interaction, JSON (block_actions)")}))})
        self.parameters = [
            Parameter(name="X-Slack-Request-Timestamp", param_in=ParamType.HEADER, required=True,
                      schema=Schema(type=OpenAPIType.STRING), description="Unix time; within five minutes"),
            Parameter(name="X-Slack-Signature", param_in=ParamType.HEADER, required=True,
                      schema=Schema(type=OpenAPIType.STRING), description="v0=<HMAC-SHA256 of v0:<ts>:<body>>"),
        ]


def _errors(**described: str) -> dict[int, ResponseSpec]:
    return {int(code[1:]): ResponseSpec(data_container=ErrorBody, description=text) for code, text in described.items()}


def slack_handlers(sink: EventSink, *, signing_secret: str | None) -> list[HTTPRouteHandler]:
    from ingest.slack import click_envelope, verify_slack_request

    @post("/slack/interactions", status_code=200, request_max_body_size=256 * 1024, tags=["ingest"],
          summary="Slack button presses (signed block_actions)", operation_class=_SlackOperation,
          media_type=MediaType.TEXT, response_description="recorded (empty body), or ignored when not our button",
          responses=_errors(s400="not a well-formed interaction", s401="invalid Slack signature or timestamp",
                            s413="body too large", s503="event store unavailable, retry later"))
    async def slack_interactions(request: Request) -> Response:
        """The signature (slack-sdk's `SignatureVerifier`) is checked before anything is parsed."""
        body = await request.body()
        if not signing_secret or not verify_slack_request(
                signing_secret, body, request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"), time.time()):
            log.warning("slack_signature_rejected")
            return _error(401, "invalid Slack signature or timestamp")
        try:
            env = click_envelope(body, datetime.now(UTC))
        except InvalidInput as exc:
            return _error(400, exc.reason)
        if env is not None:
            try:
                await sink.publish_event(env)
            except TransientError:
                return _error(503, "event store unavailable, retry later")
            log.info("slack_click_stored", event_id=env.event_id, event_type=env.event_type, key=env.key,
                     choice=env.payload.get("choice", "undo"))
        return Response("", status_code=200, media_type=MediaType.TEXT)

    return [slack_interactions]

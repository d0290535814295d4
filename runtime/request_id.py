"""X-Request-ID on every HTTP response (webhooks, 4xx and 5xx included), and on every log line of
that request: an inbound id that is plausible is kept, anything else gets a fresh one."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
import structlog

HEADER = b"x-request-id"
_VALID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
log = structlog.get_logger(__name__)


def request_id(inbound: str | None) -> str:
    """The id to use: the caller's when it is 1–128 characters of letters, digits and `._:-`."""
    if inbound and _VALID.fullmatch(inbound):
        return inbound
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """ASGI middleware around the whole HTTP app; attributes of the wrapped app stay reachable."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), None)
        rid = request_id(inbound)
        started = False

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != HEADER]
                headers.append((HEADER, rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=rid):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                log.error("http_unhandled_error", error=type(exc).__name__, path=scope.get("path"))
                if started:
                    raise
                body = orjson.dumps({"error": "internal error"})
                await send_with_id({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", b"application/json"),
                                                (b"content-length", str(len(body)).encode())]})
                await send_with_id({"type": "http.response.body", "body": body})

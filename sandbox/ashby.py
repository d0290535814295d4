"""A fake Ashby served over real HTTP: the API endpoints auto-advance uses, with Ashby's shapes.

State lives in memory. List endpoints page with small pages and opaque cursors, and support
incremental sync with sync tokens that expire; errors come back as Ashby sends them (HTTP 200 with
`success: false`, 401 for a bad key); `fail_next` injects 429/5xx/slow answers/error envelopes;
`application.changeStage` moves applications (an archived stage needs an archive reason); every
call is recorded. Faults can also apply a write and then answer late, with a 5xx or by dropping
the connection, as a real server under load does; `applied` and `emails` count what took effect.
Interview schedule changes and stage moves are delivered as signed webhooks to
a target URL, retried on non-2xx as Ashby does. A scenario is loaded with `load_scenario` or
`POST /_sandbox/scenario`; `/_sandbox/*` is the control API (see `docs/sandbox.md`).

`SandboxAshby` is layered by what it fakes, each layer in its own module:
sandbox/ashby_webhooks.py (signed deliveries and their retries) <- sandbox/ashby_records.py (the
recruiting world) <- sandbox/ashby_api.py (auth, endpoints, paging, sync tokens, faults) <- this
module (the HTTP server, the `/_sandbox/` control routes, start/stop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from sandbox._server import AsgiServer, read_body, send_response
from sandbox.ashby_api import LISTS, AshbyApi, DroppedOnPurpose, Fault, _error
from sandbox.ashby_limit import RateLimit
from sandbox.ashby_records import NAMESPACE, STAGE_GROUPS, SandboxError, iso, sandbox_id
from sandbox.ashby_webhooks import Delivery, Json, webhook_signature

__all__ = ["DEFAULT_API_KEY", "LISTS", "NAMESPACE", "STAGE_GROUPS", "Delivery", "DroppedOnPurpose", "Fault", "Json",
           "SandboxAshby", "SandboxError", "iso", "sandbox_id", "webhook_signature"]

DEFAULT_API_KEY = "sandbox-ashby-api-key"


class SandboxAshby(AshbyApi):
    """`await start()` serves it on a free port and returns the API base URL."""

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, page_size: int = 2, sync_token_ttl_s: float = 7 * 86400,
                 incremental_sync_limit: int | None = None, webhook_url: str | None = None,
                 webhook_secret: str | None = None, webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1, 2, 5, 10),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), rate_limit: RateLimit | None = None) -> None:
        self.api_key, self.page_size, self.sync_token_ttl_s = api_key, page_size, sync_token_ttl_s
        self.rate_limit = rate_limit
        self.incremental_sync_limit = incremental_sync_limit
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.webhook_retry_delays = webhook_retry_delays
        self.clock = clock
        self.root_url = ""
        self.base_url = ""
        self._server: AsgiServer | None = None
        self._deliverer = None
        self._attempts = set()
        self._wake = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Forget every record, call, delivery and pending fault."""
        super().reset()

    # --- server --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = AsgiServer(self._asgi, "sandbox Ashby")
        self.root_url = await self._server.start(host, port)
        self.base_url = self.root_url
        self._start_deliveries()
        return self.base_url

    async def stop(self) -> None:
        await self._stop_deliveries()
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _asgi(self, scope: Json, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        extra: dict[str, str] = {}
        if path.startswith("/_sandbox/"):
            status, doc = self._control(scope["method"], path[len("/_sandbox/"):], body,
                                        scope.get("query_string", b"").decode())
        elif scope["method"] == "POST" and path.count("/") == 1 and "." in path:
            try:
                status, doc, extra = await self.handle_api(path[1:], body, headers)
            except DroppedOnPurpose:  # start an answer, then break it off: the client sees a lost connection
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
                raise
        else:
            status, doc = 404, _error("endpoint_not_found", "no such endpoint")
        await send_response(send, status, doc, extra)

    def _control(self, method: str, path: str, body: bytes, query: str) -> tuple[int, Json]:
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return 400, {"ok": False, "error": "body must be JSON"}
        try:
            return 200, {"ok": True, **self._control_route(method, path, doc, query)}
        except SandboxError as exc:
            return 400, {"ok": False, "error": f"{exc.code}: {exc.message}"}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"ok": False, "error": f"bad request: {type(exc).__name__} {exc}"}

    def _control_route(self, method: str, path: str, doc: Json, query: str) -> Json:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "calls":
            endpoint = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("endpoint")
            return {"calls": [c for c in self.calls if endpoint is None or c["endpoint"] == endpoint]}
        if method == "GET" and path == "webhooks":
            return {"deliveries": [d.summary() for d in self.deliveries]}
        if method == "GET" and path == "stage_changes":
            return {"stage_changes": self.stage_changes}
        if method == "GET" and path == "applied":
            return {"applied": self.applied, "emails": self.emails}
        if method == "GET" and len(parts) == 2 and parts[0] == "applications":
            return {"application": self.application_info(parts[1])}
        if method != "POST":
            raise SandboxError("not_found", "unknown sandbox route")
        if path == "scenario":
            return {"ids": self.load_scenario(doc)}
        if path == "reset":
            self.reset()
            return {}
        if path == "schedules":
            return {"schedule": self.set_schedule(doc["key"], doc["application"], doc.get("status", "Scheduled"),
                                                  doc.get("interviews", []))}
        if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "status":
            return {"schedule": self.set_schedule_status(parts[1], doc["status"])}
        if path == "feedback":
            return {"feedback": self.submit_feedback(doc["key"], doc["application"], doc["interview"], doc["user"],
                                                     doc["values"])}
        if len(parts) == 3 and parts[0] == "applications" and parts[2] == "move":
            app = self.move(parts[1], doc["stage"], archive_reason_id=doc.get("archive_reason_id"))
            return {"application": self.application_info(app["id"])}
        if path == "candidates/merge":
            return {"merged": self.merge_candidates(doc["deleted"], doc["merged"])}
        if len(parts) == 3 and parts[0] == "applications" and parts[2] == "job":
            app = self.change_job(parts[1], doc["job"], doc["stage"])
            return {"application": self.application_info(app["id"])}
        if path == "faults":
            self.fail_next(doc.get("endpoint", "*"), status=int(doc.get("status", 200)), code=doc.get("code"),
                           retry_after=doc.get("retry_after"), delay=float(doc.get("delay", 0)),
                           times=int(doc.get("times", 1)), jitter=float(doc.get("jitter", 0)),
                           after_apply=bool(doc.get("after_apply", False)), drop=bool(doc.get("drop", False)),
                           scope=doc.get("scope"))
            return {}
        if path == "faults/clear":
            self.clear_faults()
            return {}
        if path == "rate_limit":  # {"per_s": 0} turns it off
            per_s = float(doc.get("per_s") or 0)
            self.rate_limit = RateLimit(per_s, doc.get("burst"), retry_after=bool(doc.get("retry_after", True))) \
                if per_s > 0 else None
            return {}
        if path == "sync_tokens/expire":
            self.expire_sync_tokens()
            return {}
        if path == "webhook_target":
            self.webhook_url, self.webhook_secret = doc["url"], doc.get("secret")
            return {}
        raise SandboxError("not_found", "unknown sandbox route")

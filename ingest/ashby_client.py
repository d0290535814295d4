"""The Ashby API client: POST JSON to `<base>/<category>.<method>`, Basic auth with the key.

Ashby answers most failures with HTTP 200 and `{"success": false, "errorInfo": {...}}`; those are
raised as `AshbyError` (permanent) and never handed out as data. Reads (`*.info`, `*.list*`,
`*.search`) retry 429, 5xx, timeouts and connection failures with backoff and jitter, honouring
`Retry-After`. A write is sent once: only a failure that provably left it unapplied (a refused
connection, a 429) is retried; after a timeout, a lost connection or a 5xx once the request was
sent, it raises `AshbyOutcomeUnknown` and the caller must read before sending again. Spent retries
surface as `AshbyUnavailable` (transient); 401/403 are `AshbyAuthError`. The key is never logged.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson
import structlog

from contracts.errors import OutcomeUnknown, PermanentError, TransientError
from ingest.ashby_budget import BudgetTransport, Priority, RequestBudget, using_priority

log = structlog.get_logger(__name__)

DEFAULT_API_URL = "https://api.ashbyhq.com"
ACCEPT = "application/json; version=1"
PAGE_SIZE_MAX = 100
SYNC_RESTART_CODES = frozenset({"sync_token_expired", "sync_token_invalid", "incremental_sync_too_large"})
# Endpoints the API description marks as cursor-paginated; the others take no cursor/limit.
PAGINATED = frozenset({
    "applicationFeedback.list", "application.list", "candidate.list", "feedbackFormDefinition.list",
    "interview.list", "interviewPlan.list", "interviewSchedule.list", "job.list", "user.list",
})

Json = dict[str, Any]
READ_METHOD_PREFIXES = ("info", "list", "search")
READS = frozenset({"user.interviewerSettings", "report.synchronous"})
# Failures that happen before a byte of the request leaves: the write cannot have been applied.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def is_write(endpoint: str) -> bool:
    """Whether an endpoint changes state in Ashby: anything that is not a read (unknown ones too)."""
    method = endpoint.rpartition(".")[2]
    return not (endpoint in READS or method.startswith(READ_METHOD_PREFIXES))


class AshbyError(PermanentError):
    """Ashby refused the request (`success: false` or a 4xx); retrying the same call will not help."""

    def __init__(self, endpoint: str, code: str, message: str = "", *, status: int = 200,
                 request_id: str | None = None) -> None:
        self.endpoint, self.code, self.status, self.request_id = endpoint, code, status, request_id
        detail = f": {message}" if message else ""
        super().__init__(f"Ashby {endpoint} failed ({code}, HTTP {status}){detail}")


class AshbyAuthError(AshbyError):
    """401/403: the API key is wrong, revoked, or lacks the permission the endpoint needs."""


class AshbyUnavailable(TransientError):
    """Ashby was rate limiting, failing or unreachable for every attempt."""

    def __init__(self, endpoint: str, reason: str, *, retry_after: float | None = None) -> None:
        self.endpoint, self.reason, self.retry_after = endpoint, reason, retry_after
        super().__init__(f"Ashby {endpoint} unavailable: {reason}")


class AshbyOutcomeUnknown(OutcomeUnknown):
    """A write was sent and no answer says whether Ashby applied it (timeout, lost connection, 5xx).

    The client never re-sends it; only a read of the resource can tell whether it happened."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint, self.reason = endpoint, reason
        super().__init__(f"Ashby {endpoint} outcome unknown: {reason}")


@dataclass(frozen=True, slots=True)
class SyncResult:
    items: list[Json]
    sync_token: str | None
    full: bool  # True when this was a full sync (no token, or the token had to be dropped)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class AshbyClient:
    def __init__(self, base_url: str = DEFAULT_API_URL, api_key: str = "", *, timeout: float = 15.0,
                 max_retries: int = 5, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 retry_after_max: float = 120.0, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 on_request: Callable[[str, Json], None] | None = None,
                 budget: RequestBudget | None = None) -> None:
        if not api_key:
            raise ValueError("an Ashby API key is required")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries, self.backoff_base, self.backoff_max = max_retries, backoff_base, backoff_max
        self.retry_after_max = retry_after_max
        self._sleep, self._on_request = sleep, on_request
        self.budget = budget or RequestBudget()  # every attempt takes a token from it (see ashby_budget)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, auth=httpx.BasicAuth(api_key, ""), timeout=httpx.Timeout(timeout),
            headers={"Accept": ACCEPT, "Content-Type": "application/json", "User-Agent": "auto-advance"},
            transport=BudgetTransport(transport or httpx.AsyncHTTPTransport(limits=limits), self.budget),
            trust_env=False, limits=limits)

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- one request ----------------------------------------------------------------------

    async def request(self, endpoint: str, body: Json | None = None) -> Json:
        """The whole success envelope of one call, after the retries its kind allows; raises on any
        failure. Each attempt is bounded by `timeout` in total, not only between bytes."""
        body = body or {}
        if self._on_request is not None:
            self._on_request(endpoint, body)
        content = orjson.dumps(body)
        write = is_write(endpoint)
        attempt = 0
        while True:
            attempt += 1
            wait: float | None = None
            sent = True  # whether the request may have reached Ashby
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self._http.post(f"/{endpoint}", content=content)
            except NOT_SENT as exc:
                reason, sent = f"connection failed ({type(exc).__name__})", False
            except (httpx.TimeoutException, TimeoutError):
                reason = "timeout"
            except httpx.TransportError as exc:
                reason = f"connection lost ({type(exc).__name__})"
            else:
                status = response.status_code
                if status == 429:  # Ashby refused it: nothing was applied, waiting is safe
                    reason, sent = "HTTP 429", False
                    wait = retry_after_seconds(response.headers.get("retry-after"))
                elif status >= 500:
                    reason = f"HTTP {status}"
                    wait = retry_after_seconds(response.headers.get("retry-after"))
                else:
                    return self._envelope(endpoint, response)
            if write and sent:
                log.warning("ashby_write_outcome_unknown", endpoint=endpoint, reason=reason, attempt=attempt)
                raise AshbyOutcomeUnknown(endpoint, reason)
            if attempt > self.max_retries:
                raise AshbyUnavailable(endpoint, f"{reason} after {attempt} attempts", retry_after=wait)
            delay = self._backoff(attempt) if wait is None else min(wait, self.retry_after_max)
            log.info("ashby_retry", endpoint=endpoint, reason=reason, attempt=attempt, delay_s=round(delay, 3))
            await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    @staticmethod
    def _envelope(endpoint: str, response: httpx.Response) -> Json:
        status = response.status_code
        try:
            doc = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            doc = None
        info = (doc.get("errorInfo") if isinstance(doc, dict) else None) or {}
        code = str(info.get("code") or "")
        message = str(info.get("message") or "")[:300]
        if status in (401, 403):
            raise AshbyAuthError(endpoint, code or ("unauthorized" if status == 401 else "forbidden"),
                                 message or "the API key was rejected or lacks the permission for this endpoint",
                                 status=status, request_id=info.get("requestId"))
        if not isinstance(doc, dict):
            raise AshbyError(endpoint, "invalid_response", "the body is not a JSON object", status=status)
        if status >= 400 or doc.get("success") is not True:
            if not code:
                errors = doc.get("errors")
                code = str(errors[0]) if isinstance(errors, list) and errors else "unknown_error"
            raise AshbyError(endpoint, code, message, status=status, request_id=info.get("requestId"))
        if "results" not in doc:
            raise AshbyError(endpoint, "invalid_response", "success without results", status=status)
        return doc

    async def call(self, endpoint: str, body: Json | None = None, *, priority: Priority | None = None) -> Any:
        """The `results` of one call (at `priority` in the request budget, else the caller's context's)."""
        if priority is None:
            return (await self.request(endpoint, body))["results"]
        with using_priority(priority):
            return (await self.request(endpoint, body))["results"]

    # --- lists ----------------------------------------------------------------------------

    async def paginate(self, endpoint: str, body: Json | None = None, *,
                       page_size: int = PAGE_SIZE_MAX) -> AsyncIterator[list[Json]]:
        """Every page of a list endpoint, following `nextCursor` while `moreDataAvailable`."""
        async for page, _ in self._pages(endpoint, dict(body or {}), page_size):
            yield page

    async def _pages(self, endpoint: str, body: Json, page_size: int) -> AsyncIterator[tuple[list[Json], Json]]:
        paginated = endpoint in PAGINATED
        if paginated:
            body.setdefault("limit", min(page_size, PAGE_SIZE_MAX))
        seen_cursors: set[str] = set()
        while True:
            doc = await self.request(endpoint, body)
            results = doc["results"]
            yield (results if isinstance(results, list) else [results]), doc
            cursor = doc.get("nextCursor")
            if not (paginated and doc.get("moreDataAvailable") and cursor):
                return
            if cursor in seen_cursors:  # a server bug must not become an endless loop
                raise AshbyError(endpoint, "cursor_loop", "the same nextCursor came back twice")
            seen_cursors.add(cursor)
            body = {k: v for k, v in body.items() if k != "syncToken"} | {"cursor": cursor}

    async def sync(self, endpoint: str, body: Json | None, sync_token: str | None) -> SyncResult:
        """An incremental sync from `sync_token` (a full one without), falling back to a full sync
        when Ashby says the token is expired, invalid or the change set too large."""
        if sync_token:
            try:
                return await self._sync(endpoint, body, sync_token)
            except AshbyError as exc:
                if exc.code not in SYNC_RESTART_CODES:
                    raise
                log.warning("ashby_full_resync", endpoint=endpoint, code=exc.code)
        return await self._sync(endpoint, body, None)

    async def _sync(self, endpoint: str, body: Json | None, sync_token: str | None) -> SyncResult:
        request = dict(body or {})
        if sync_token:
            request["syncToken"] = sync_token
        items: list[Json] = []
        token: str | None = None
        async for page, doc in self._pages(endpoint, request, PAGE_SIZE_MAX):
            items.extend(page)
            token = doc.get("syncToken") or token
        return SyncResult(items, token or sync_token, full=sync_token is None)

"""One request budget per Ashby API key: a token bucket with priorities, backing off as a whole on 429.

Every HTTP attempt of the Ashby client takes a token first (`BudgetTransport`); waiting callers are
served highest priority first (writes, then the fetches a webhook needs, then polling, then metadata
sync). A 429 empties the bucket and pauses it for `Retry-After` (or a doubling backoff) for every
caller; throttling that lasts raises an alert once per episode. Counters feed /health.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)

DEFAULT_RATE_PER_S = 5.0
DEFAULT_BURST = 10
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 60.0
BOTTLENECK_WAIT_S = 1.0  # a wait longer than this is logged (at most once a minute)


class Priority(IntEnum):
    """Lower goes first."""

    WRITE = 0  # executor calls (the stale check and the change itself)
    PROMPT = 1  # fetches a webhook or a person is waiting for (snapshots, Slack messages)
    POLL = 2  # the feedback sync pass and targeted per-application checks
    METADATA = 3  # jobs, plans, users, forms, archive reasons


_PRIORITY: contextvars.ContextVar[Priority | None] = contextvars.ContextVar("ashby_priority", default=None)
_READ_SUFFIXES = (".list", ".info", ".search")


def default_priority(endpoint: str) -> Priority:
    """Writes go first; a read with no stated priority is taken as one somebody waits for."""
    return Priority.PROMPT if endpoint.endswith(_READ_SUFFIXES) else Priority.WRITE


@contextlib.contextmanager
def using_priority(priority: Priority) -> Iterator[None]:
    """Ashby calls made inside (and in tasks started inside) take this priority."""
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority(endpoint: str) -> Priority:
    chosen = _PRIORITY.get()
    return default_priority(endpoint) if chosen is None else chosen  # not `or`: WRITE is 0


class Prioritised:
    """A view of an Ashby client whose `call`s take one priority (e.g. the executor's: WRITE)."""

    def __init__(self, client: Any, priority: Priority) -> None:
        self._client, self.priority = client, priority

    async def call(self, endpoint: str, body: dict[str, Any] | None = None) -> Any:
        with using_priority(self.priority):
            return await self._client.call(endpoint, body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    ready: asyncio.Event = field(compare=False, default_factory=asyncio.Event)
    cancelled: bool = field(compare=False, default=False)


class RequestBudget:
    """A token bucket (`rate_per_s`, `burst`) shared by every Ashby caller of a process."""

    def __init__(self, rate_per_s: float = DEFAULT_RATE_PER_S, burst: int = DEFAULT_BURST, *,
                 alert_after_s: float = 300.0, on_alert: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("the Ashby request budget needs a positive rate and a burst of at least 1")
        self.rate, self.burst = float(rate_per_s), int(burst)
        self.alert_after_s, self.on_alert, self.clock = alert_after_s, on_alert, clock
        self._tokens, self._stamp = float(burst), clock()
        self._paused_until = 0.0
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self._backoff = 0.0
        self._throttled_since: float | None = None
        self._alerted = False
        self._last_bottleneck_log = -1e9
        self.requests: dict[tuple[str, str, str], int] = {}
        self.waits: dict[str, list[float]] = {p.name.lower(): [0, 0.0, 0.0] for p in Priority}  # n, sum, max
        self.throttles = 0
        self.alerts = 0

    # --- taking a token ------------------------------------------------------------------------

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _head(self) -> _Waiter | None:
        while self._queue and self._queue[0].cancelled:
            heapq.heappop(self._queue)
        return self._queue[0] if self._queue else None

    async def acquire(self, priority: Priority) -> float:
        """Wait for a token, behind every waiter of a higher priority; the seconds waited."""
        start = self.clock()
        me = _Waiter(int(priority), next(self._seq))
        heapq.heappush(self._queue, me)
        try:
            while True:
                now = self.clock()
                if self._head() is me:
                    self._refill(now)
                    delay = max(self._paused_until - now, (1.0 - self._tokens) / self.rate, 0.0)
                    if delay <= 0:
                        heapq.heappop(self._queue)
                        self._tokens -= 1.0
                        self._wake_head()
                        break
                    me.ready.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(me.ready.wait(), delay)  # woken early when pre-empted
                else:
                    me.ready.clear()
                    await me.ready.wait()
        except BaseException:
            me.cancelled = True
            self._wake_head()
            raise
        waited = self.clock() - start
        self._note_wait(priority, waited)
        return waited

    def _wake_head(self) -> None:
        head = self._head()
        if head is not None:
            head.ready.set()

    def _note_wait(self, priority: Priority, waited: float) -> None:
        stat = self.waits[priority.name.lower()]
        stat[0] += 1
        stat[1] += waited
        stat[2] = max(stat[2], waited)
        now = self.clock()
        if waited >= BOTTLENECK_WAIT_S and now - self._last_bottleneck_log >= 60.0:
            self._last_bottleneck_log = now
            log.warning("ashby_budget_bottleneck", priority=priority.name.lower(), waited_s=round(waited, 2),
                        queued=len(self._queue), rate_per_s=self.rate, throttled=self._paused_until > now)

    # --- what Ashby answered -------------------------------------------------------------------

    def record(self, endpoint: str, priority: Priority, outcome: str) -> None:
        key = (endpoint, priority.name.lower(), outcome)
        self.requests[key] = self.requests.get(key, 0) + 1
        if outcome != "429" and self._throttled_since is not None:
            log.info("ashby_throttling_ended", seconds=round(self.clock() - self._throttled_since, 1))
            self._throttled_since, self._backoff, self._alerted = None, 0.0, False

    def throttled(self, endpoint: str, retry_after: float | None) -> float:
        """A 429: empty the bucket and pause everyone; the pause in seconds."""
        now = self.clock()
        self.throttles += 1
        if retry_after is None:
            self._backoff = min(BACKOFF_MAX_S, self._backoff * 2 if self._backoff else BACKOFF_FIRST_S)
            pause = self._backoff
        else:
            pause = min(max(retry_after, 0.0), 10 * BACKOFF_MAX_S)
        self._paused_until = max(self._paused_until, now + pause)
        self._tokens = 0.0
        self._stamp = now
        if self._throttled_since is None:
            self._throttled_since = now
        lasted = now - self._throttled_since
        log.warning("ashby_rate_limited", endpoint=endpoint, pause_s=round(pause, 2),
                    retry_after=retry_after is not None, throttled_for_s=round(lasted, 1))
        if lasted >= self.alert_after_s and not self._alerted:
            self._alerted = True
            self.alerts += 1
            if self.on_alert is not None:
                self.on_alert({"throttled_for_s": round(lasted, 1), "since": time.time() - lasted,
                               "throttles": self.throttles})
        return pause

    def stats(self) -> dict[str, Any]:
        """JSON for /health: requests by endpoint/priority/outcome and the wait per priority."""
        by_endpoint: dict[str, dict[str, dict[str, int]]] = {}
        for (endpoint, priority, outcome), n in sorted(self.requests.items()):
            by_endpoint.setdefault(endpoint, {}).setdefault(priority, {})[outcome] = n
        now = self.clock()
        return {
            "rate_per_s": self.rate, "burst": self.burst, "queued": sum(not w.cancelled for w in self._queue),
            "paused_for_s": round(max(0.0, self._paused_until - now), 2), "throttles": self.throttles,
            "throttled_for_s": round(now - self._throttled_since, 1) if self._throttled_since is not None else 0.0,
            "alerts": self.alerts, "requests": by_endpoint,
            "wait_s": {p: {"count": int(n), "mean": round(s / n, 4) if n else 0.0, "max": round(m, 4)}
                       for p, (n, s, m) in self.waits.items()},
        }


class BudgetTransport(httpx.AsyncBaseTransport):
    """Wraps the client's transport: a token before each attempt, the outcome counted after, 429 told
    to the budget. The retry policy stays the client's; this only paces and observes."""

    def __init__(self, inner: httpx.AsyncBaseTransport, budget: RequestBudget) -> None:
        self.inner, self.budget = inner, budget

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        from ingest.ashby_client import retry_after_seconds  # the client imports this module

        endpoint = request.url.path.lstrip("/")
        priority = current_priority(endpoint)
        await self.budget.acquire(priority)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TimeoutException:
            self.budget.record(endpoint, priority, "timeout")
            raise
        except httpx.TransportError:
            self.budget.record(endpoint, priority, "connection_error")
            raise
        status = response.status_code
        if status == 429:
            self.budget.record(endpoint, priority, "429")
            self.budget.throttled(endpoint, retry_after_seconds(response.headers.get("retry-after")))
        else:
            self.budget.record(endpoint, priority, "5xx" if status >= 500 else "ok" if status < 400 else "4xx")
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

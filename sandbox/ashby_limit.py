"""The sandbox Ashby's rate limit: a token bucket per API key, answering 429 as Ashby does.

Off unless configured (`SandboxAshby(rate_limit_per_s=...)`, `POST /_sandbox/rate_limit`), so tests
and benches can show that nothing is lost when Ashby throttles us.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any


class RateLimit:
    """`rate_per_s` requests a second per key with bursts of `burst`; `retry_after` adds the header."""

    def __init__(self, rate_per_s: float, burst: int | None = None, *, retry_after: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate, self.burst = float(rate_per_s), int(burst or max(1, round(rate_per_s)))
        self.retry_after, self.clock = retry_after, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self.limited = 0

    def take(self, key: str) -> float | None:
        """None when the request may pass, else the seconds until it could."""
        now = self.clock()
        tokens, stamp = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        self.limited += 1
        return (1.0 - tokens) / self.rate

    def answer(self, key: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """The 429 to send instead of serving the request, or None."""
        wait = self.take(key)
        if wait is None:
            return None
        headers = {"Retry-After": f"{max(1, round(wait + 0.5))}"} if self.retry_after else {}
        headers["X-RateLimit-Limit"] = f"{self.rate:g}"
        doc = {"success": False, "errors": ["rate_limit_exceeded"],
               "errorInfo": {"code": "rate_limit_exceeded", "message": "Rate limit exceeded; try again later",
                             "requestId": str(uuid.uuid4())}}
        return 429, doc, headers

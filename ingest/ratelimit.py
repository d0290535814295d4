"""A per-client token bucket (pure: time is an argument)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    rate_per_s: float
    burst: int
    max_clients: int = 10_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, client: str, now: float) -> float:
        """0.0 if the request may pass, else the seconds until a token is available."""
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
        if tokens >= 1.0:
            self._store(client, (tokens - 1.0, now))
            return 0.0
        self._store(client, (tokens, now))
        return (1.0 - tokens) / self.rate_per_s if self.rate_per_s > 0 else 60.0

    def _store(self, client: str, value: tuple[float, float]) -> None:
        if client not in self._buckets and len(self._buckets) >= self.max_clients:
            self._buckets.pop(next(iter(self._buckets)))  # forget the oldest client
        self._buckets[client] = value

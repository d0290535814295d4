"""The sandbox Ashby's webhooks: signed deliveries to a target URL, retried on non-2xx as Ashby does.

The base layer of `SandboxAshby` (sandbox/ashby.py): the recruiting world (sandbox/ashby_records.py)
calls `send_webhook` when something changes; `webhooks_settled` lets a test wait for every delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import structlog

log = structlog.get_logger("sandbox.ashby")  # the logger name it had before the split

Json = dict[str, Any]


def webhook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    id: str
    action: str
    body: bytes
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False

    def summary(self) -> Json:
        return {"id": self.id, "action": self.action, "attempts": self.attempts, "statuses": self.statuses,
                "delivered": self.delivered, "payload": orjson.loads(self.body)}


class AshbyWebhooks:
    """Queued deliveries and the loop that sends them; `SandboxAshby.__init__` sets the settings."""

    webhook_url: str | None
    webhook_secret: str | None
    webhook_retry_delays: tuple[float, ...]
    deliveries: list[Delivery]
    _queue: list[Delivery]
    _deliverer: asyncio.Task[None] | None
    _attempts: set[asyncio.Task[None]]
    _wake: asyncio.Event

    def reset(self) -> None:
        """Forget every delivery, sent or queued (each layer's `reset` calls the one below it)."""
        self.deliveries = []
        self._queue = []

    def send_webhook(self, action: str, data: Json) -> Delivery | None:
        """Queue a signed webhook for the target URL (none is sent while no target is set)."""
        if not self.webhook_url:
            return None
        body = orjson.dumps({"action": action, "data": data, "webhookActionId": str(uuid.uuid4())})
        delivery = Delivery(id=str(uuid.uuid4()), action=action, body=body)
        self.deliveries.append(delivery)
        self._queue.append(delivery)
        self._wake.set()
        return delivery

    def ping(self) -> Delivery | None:
        return self.send_webhook("ping", {"webhookActionType": "ping"})

    async def _deliver_loop(self) -> None:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    task = asyncio.create_task(self._deliver(client, self._queue.pop(0)))
                    self._attempts.add(task)
                    task.add_done_callback(self._attempts.discard)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        delays = (0.0, *self.webhook_retry_delays)
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            delivery.attempts += 1
            headers = {"Content-Type": "application/json"}
            if self.webhook_secret:
                headers["Ashby-Signature"] = webhook_signature(delivery.body, self.webhook_secret)
            try:
                response = await client.post(self.webhook_url or "", content=delivery.body, headers=headers)
                delivery.statuses.append(response.status_code)
                if 200 <= response.status_code < 300:
                    delivery.delivered = True
                    return
            except httpx.HTTPError as exc:
                delivery.statuses.append(type(exc).__name__)
        log.warning("sandbox_webhook_gave_up", action=delivery.action, attempts=delivery.attempts)

    async def webhooks_settled(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook was delivered or given up on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._queue and all(d.delivered or d.attempts > len(self.webhook_retry_delays)
                                       for d in self.deliveries):
                return True
            await asyncio.sleep(0.02)
        return False

    def _start_deliveries(self) -> None:
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
        self._deliverer = asyncio.create_task(self._deliver_loop())

    async def _stop_deliveries(self) -> None:
        for task in [*self._attempts, *([self._deliverer] if self._deliverer else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._deliverer = None

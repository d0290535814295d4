"""The outbox relay: publishes rows written in the same transaction as a decision.

A crash after commit and before publish is healed on restart (the row is still unpublished);
a crash after publish and before marking re-publishes with the same Nats-Msg-Id, which
JetStream's duplicate window drops. LISTEN/NOTIFY wakes the relay at once; polling is the fallback.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from contracts.envelope import Envelope
from contracts.errors import TransientError
from privacy.vault import SealingPublisher as Publisher

log = structlog.get_logger(__name__)
CHANNEL = "outbox"


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, publisher: Publisher, *, batch: int = 256, poll_s: float = 0.5) -> None:
        self.pool, self.publisher, self.batch, self.poll_s = pool, publisher, batch, poll_s
        self._wake = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one batch of unpublished rows in id order; returns how many were published."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, subject, envelope FROM outbox WHERE published_at IS NULL
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""", self.batch)
            if not rows:
                return 0
            envelopes = [(r["subject"], Envelope.model_validate(r["envelope"])) for r in rows]
            await asyncio.gather(*(self.publisher.publish(subject, env) for subject, env in envelopes))
            await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                               [r["id"] for r in rows])
        log.info("outbox_relayed", count=len(rows))
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        listener = await self.pool.acquire()

        def wake(*_: object) -> None:
            self._wake.set()

        try:
            await listener.add_listener(CHANNEL, wake)
            while not stop.is_set():
                try:
                    n = await self.relay_once()
                except (TransientError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("outbox_relay_failed", error=f"{type(exc).__name__}: {exc}"[:200])
                    n = 0
                    await _wait(stop, 1.0)
                if n == 0:
                    self._wake.clear()
                    waker = asyncio.create_task(self._wake.wait())
                    stopper = asyncio.create_task(stop.wait())
                    await asyncio.wait([waker, stopper], timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED)
                    waker.cancel()
                    stopper.cancel()
        finally:
            try:
                await listener.remove_listener(CHANNEL, wake)
            except Exception:  # noqa: BLE001
                pass
            await self.pool.release(listener)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass

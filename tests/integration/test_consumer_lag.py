"""Consumer lag on real NATS and Postgres: /health and /api/stats report it per durable, /health is
degraded past HEALTH_MAX_CONSUMER_LAG_S, and a consumer with a backlog takes it in larger batches,
every event exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from contracts import subjects
from contracts.consumers import Delivered, Subscription
from contracts.envelope import Envelope
from projectors.handlers import PROJECTOR
from runtime.consumers import ConsumerRunner, pull_loop
from runtime.workers import create_worker
from support import eventually, running_service, schedule_payload


async def _projector_lag(svc: Any) -> dict[str, Any] | None:
    body = (await svc.client.get("/health")).json()
    return body["consumers"].get(PROJECTOR)


async def test_a_stopped_projector_shows_its_lag_and_degrades_health_until_it_catches_up(infra):
    async with running_service(infra, roles=["projectors"], health_max_consumer_lag_s=0.5) as svc:
        await eventually(lambda: _projector_lag(svc), message="the projector's durable never appeared")
        assert (await svc.client.get("/health")).json()["status"] == "ok"
        await svc.worker.stop()  # the projector stops; ingest goes on acknowledging
        for i in range(5):
            assert (await svc.post_webhook(schedule_payload(f"app-lag-{i}"))).status_code == 200

        async def degraded() -> dict[str, Any] | None:
            response = await svc.client.get("/health")
            body = response.json()
            lag = body["consumers"][PROJECTOR]
            if body["status"] == "degraded" and lag["lag_s"] > 0.5:
                assert response.status_code == 200  # degraded is not down: webhooks are still stored
                return body
            return None

        body = await eventually(degraded, timeout=20, message="/health never said the projector lags")
        assert body["consumers"][PROJECTOR]["lag_messages"] == 5
        assert PROJECTOR in body["degraded"]["lagging_consumers"]
        stats = (await svc.client.get("/api/stats")).json()
        assert stats["consumers"][PROJECTOR]["lag_messages"] == 5 and PROJECTOR in stats["lagging_consumers"]

        restarted = create_worker(["projectors"], svc.services)
        await restarted.start()
        try:
            async def caught_up() -> bool:
                body = (await svc.client.get("/health")).json()
                lag = body["consumers"][PROJECTOR]
                return body["status"] == "ok" and lag["lag_messages"] == 0 and lag["lag_s"] == 0.0

            await eventually(caught_up, timeout=20, message="health did not return to ok after catching up")
            assert await svc.fetchval("SELECT count(*) FROM event_log") == 5
            assert await svc.fetchval("SELECT count(DISTINCT event_id) FROM event_log") == 5
            stats = (await svc.client.get("/api/stats")).json()
            assert stats["applied"]["event_log"] == 5 and stats["lagging_consumers"] == []
        finally:
            await restarted.stop()


async def test_a_backlog_is_taken_in_batches_larger_than_the_batch_size_each_event_once(infra):
    from runtime.broker import connect, ensure_streams
    from runtime.db import create_pool, migrate

    nc = await connect(infra.nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    pool = await create_pool(infra.database_url)
    await migrate(pool)
    await pool.execute("CREATE TABLE lag_test_seen (stream_seq bigint PRIMARY KEY)")
    total = 3000
    when = datetime(2026, 11, 1, tzinfo=UTC)
    for start in range(0, total, 500):
        await asyncio.gather(*(js.publish(subjects.event_subject("test", "Noted", f"k{i}"), Envelope(
            event_id=f"e{i}", event_type="Noted", key=f"k{i}", source="test", occurred_at=when,
            recorded_at=when).to_bytes()) for i in range(start, start + 500)))
    sizes: list[int] = []

    async def handler(conn: Any, batch: list[Delivered]) -> None:
        sizes.append(len(batch))
        await conn.executemany("INSERT INTO lag_test_seen VALUES ($1)", [(d.stream_seq,) for d in batch])

    sub = Subscription("test-backlog-v1", subjects.EVENTS_STREAM, subjects.EVENTS_ALL, handler)
    runner = ConsumerRunner(sub, pool, js, max_deliver=5)
    stop = asyncio.Event()
    loop = asyncio.create_task(pull_loop(js, sub, runner, stop, batch_size=100, max_batch_size=1000,
                                         ack_wait_s=30, max_deliver=5, fetch_wait_s=0.2))
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) = $1 FROM lag_test_seen", total), timeout=30,
                         message="the backlog was not consumed")
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)
        await pool.close()
        await nc.close()
    assert sum(sizes) == total  # every event once (the primary key refuses a second)
    assert max(sizes) > 100 and max(sizes) <= 1000
    assert len(sizes) < total // 100  # fewer transactions than at a fixed batch size

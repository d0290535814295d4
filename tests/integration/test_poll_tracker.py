"""The poll tracker folds a whole batch in two round trips, and ends where one event at a time would."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from contracts.consumers import Delivered
from contracts.envelope import Envelope
from ingest.handlers import poll_tracker
from ingest.polling import Decay
from ingest.webhook import to_envelope
from runtime.db import create_pool, migrate
from support import fresh_database, schedule_payload

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _batch() -> list[Delivered]:
    def schedule(app: str, n: int, status: str, stage: str = "stage-1") -> Envelope:
        body = orjson.dumps(schedule_payload(app, schedule_id=f"sched-{app}-{n % 2}", status=status, stage_id=stage,
                                             updated_at=f"2026-11-01T10:0{n}:00.000Z", webhook_action_id=f"wa-{app}-{n}"))
        env = to_envelope(body, NOW)
        assert env is not None
        return env

    rules = Envelope(event_id="rules-1", event_type="RuleSetActivated", key="rules", occurred_at=NOW, recorded_at=NOW,
                     source="evaluator", payload={"version": 1, "document": {"rules": [{"stage_id": "stage-2"}]}})
    envelopes = [schedule("app-a", 0, "Scheduled"), schedule("app-b", 1, "Complete", "stage-2"),
                 schedule("app-a", 1, "Complete", "stage-2"), rules, schedule("app-b", 2, "Complete", "stage-2"),
                 schedule("app-a", 3, "Complete", "stage-2"), schedule("app-c", 4, "Scheduled")]
    return [Delivered(env, seq, f"ev.test.{env.event_type}.{env.key}") for seq, env in enumerate(envelopes, 1)]


async def _watches_after(admin_url: str, batches: list[list[Delivered]]) -> list[tuple]:
    pool = await create_pool(await fresh_database(admin_url))
    try:
        await migrate(pool)
        track = poll_tracker(Decay.of_seconds(15, 300, 1800), clock=lambda: NOW)
        for batch in batches:
            async with pool.acquire() as conn, conn.transaction():
                await track(conn, batch)
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT application_id, state, next_poll_at FROM poll_watch ORDER BY 1")
        return [tuple(r) for r in rows]
    finally:
        await pool.close()


async def test_a_batch_leaves_the_watches_one_event_at_a_time_would(postgres_admin_url):
    batch = _batch()
    together = await _watches_after(postgres_admin_url, [batch])
    one_by_one = await _watches_after(postgres_admin_url, [[d] for d in batch])
    assert [row[0] for row in together] == ["app-a", "app-b", "app-c"]
    assert together == one_by_one
    states = {app: state for app, state, _ in together}
    assert states["app-a"]["feedback_due"] is True  # its stage is decided by the rule set activated mid-batch
    assert states["app-c"]["feedback_due"] is False and len(states["app-a"]["schedules"]) == 2

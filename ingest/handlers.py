"""Ingest's consumer handlers: keep the poll watches up to date from the event log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import orjson

from contracts.consumers import Delivered
from ingest import store
from ingest.polling import Decay, decidable_stages, on_event

POLL_TRACKER = "ingest-poll_watch-v1"
DECIDABLE_CURSOR = "rules.decidable_stages"  # the stages the active rule set decides (a JSON list)


def poll_tracker(decay: Decay, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> Callable[[asyncpg.Connection, list[Delivered]], Awaitable[None]]:
    async def track_polls(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        now = clock()
        stored = await store.get_cursor(conn, DECIDABLE_CURSOR)
        decidable = frozenset(orjson.loads(stored)) if stored else frozenset()
        for d in batch:
            if d.envelope.event_type == "RuleSetActivated":  # in stream order, like the evaluator sees it
                decidable = decidable_stages(d.envelope.payload.get("document") or {})
                await store.set_cursor(conn, DECIDABLE_CURSOR, orjson.dumps(sorted(decidable)).decode())
                continue
            if d.envelope.event_type == "ApplicationSnapshotted":
                p = d.envelope.payload
                await store.remember_application(conn, p["application_id"], p.get("candidate_id"), p.get("job_id"))
            elif d.envelope.event_type == "CandidateMerged":  # the poller reads Ashby to see what survived
                p = d.envelope.payload
                await store.add_merge(conn, d.envelope.event_id, p["deleted_candidate_id"], p["merged_candidate_id"])
                continue
            key = d.envelope.payload.get("application_id") or d.envelope.key
            watch = await store.load_watch(conn, key, lock=True)
            updated = on_event(watch, d.envelope, now, decay, decidable)
            if updated is not None:
                await store.save_watch(conn, updated)

    return track_polls

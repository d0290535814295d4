"""Ingest's consumer handlers: keep the poll watches up to date from the event log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from contracts.consumers import Delivered
from ingest import store
from ingest.polling import on_event

POLL_TRACKER = "ingest-poll_watch-v1"


def poll_tracker(feedback_timeout: timedelta, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
    async def track_polls(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        now = clock()
        for d in batch:
            key = d.envelope.payload.get("application_id") or d.envelope.key
            watch = await store.load_watch(conn, key, lock=True)
            updated = on_event(watch, d.envelope, now, feedback_timeout)
            if updated is not None:
                await store.save_watch(conn, updated)

    return track_polls

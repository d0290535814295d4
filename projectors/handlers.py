"""One short function per consumer: called inside the runtime's transaction with fresh events only."""

from __future__ import annotations

import asyncpg
import structlog

from contracts.consumers import Delivered
from projectors import store
from projectors.schedules import newest_per_schedule, to_projection

log = structlog.get_logger(__name__)

EVENT_LOG = "projectors-event_log-v1"
SCHEDULES = "projectors-schedules-v1"


async def project_event_log(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    added = await store.insert_event_log(conn, batch)
    await store.count_applied(conn, EVENT_LOG, added)


async def project_schedules(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    projections = [p for p in (to_projection(d) for d in batch) if p is not None]
    await store.upsert_schedules(conn, newest_per_schedule(projections))
    await store.count_applied(conn, SCHEDULES, len(projections))

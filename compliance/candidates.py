"""Where a candidate's personal data is read for the reports: one function per item, so the place
it is kept (today the latest `ApplicationSnapshotted` in the audit trail; later, perhaps an
erasable store of its own) can change here alone. Nothing here is ever logged."""

from __future__ import annotations

import asyncpg


async def candidate_name(conn: asyncpg.Connection, application_id: str) -> str | None:
    """The candidate's name as Ashby last reported it with the application, or None."""
    name = await conn.fetchval(
        """SELECT payload->'raw'->'candidate'->>'name' FROM event_log
           WHERE event_type = 'ApplicationSnapshotted' AND key = $1 ORDER BY stream_seq DESC LIMIT 1""",
        application_id)
    return str(name) if name else None

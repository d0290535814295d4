"""Where a candidate's personal data is read for the reports: one function per item. The name comes
through the privacy vault's one lookup (wired by runtime): Ashby's candidate objects are sealed in
the log (docs/decisions/0008-erasure.md), and an erased candidate reads "(erased)". Nothing here is
ever logged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

CandidateName = Callable[[str | None], Awaitable[str | None]]
"""candidate id → the name people may read ("(erased)" after erasure), or None when unknown."""


async def no_name(candidate_id: str | None) -> str | None:
    return None


async def candidate_id(conn: asyncpg.Connection, application_id: str) -> str | None:
    """The application's candidate as Ashby last reported it, or None."""
    found = await conn.fetchval(
        """SELECT payload->>'candidate_id' FROM event_log
           WHERE event_type = 'ApplicationSnapshotted' AND key = $1 ORDER BY stream_seq DESC LIMIT 1""",
        application_id)
    return str(found) if found else None


async def candidate_name(conn: asyncpg.Connection, application_id: str, names: CandidateName) -> str | None:
    """The application's candidate's name through `names`, or None."""
    return await names(await candidate_id(conn, application_id))

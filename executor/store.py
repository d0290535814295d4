"""SQL of the executor's inbox."""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, command_id: str, command_type: str, application_id: str) -> str | None:
    """Record the command before any call; returns the status of an earlier attempt, or None."""
    row = await conn.fetchrow(
        """INSERT INTO executor_inbox (command_id, command_type, application_id, status, attempts)
           VALUES ($1, $2, $3, 'started', 1)
           ON CONFLICT (command_id) DO UPDATE SET attempts = executor_inbox.attempts + 1, updated_at = now()
           RETURNING status, (xmax <> 0) AS existed""", command_id, command_type, application_id)
    return row["status"] if row["existed"] else None


async def finish(conn: asyncpg.Connection, command_id: str, status: str, reason: str | None) -> None:
    await conn.execute("UPDATE executor_inbox SET status = $2, reason = $3, updated_at = now() WHERE command_id = $1",
                       command_id, status, reason)

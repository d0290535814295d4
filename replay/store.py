"""The `replays` table (replay's own): a row per replay requested through the API, its status,
heartbeat, summary, result and HTML page."""

from __future__ import annotations

from typing import Any

import asyncpg

LISTED = "replay_id, status, created_at, finished_at, heartbeat_at, events_read, events_total, summary, error"
"""What a listing shows of each replay: not its result or page (megabytes for a large log)."""


async def insert_running(conn: asyncpg.Connection, replay_id: str, request: dict[str, Any],
                         events_total: int | None = None) -> None:
    await conn.execute("INSERT INTO replays (replay_id, status, request, heartbeat_at, events_total) "
                       "VALUES ($1, 'running', $2, now(), $3)", replay_id, request, events_total)


async def beat(conn: asyncpg.Connection, replay_id: str, events_read: int) -> None:
    await conn.execute("UPDATE replays SET heartbeat_at = now(), events_read = $2 "
                       "WHERE replay_id = $1 AND status = 'running'", replay_id, events_read)


async def finish_done(conn: asyncpg.Connection, replay_id: str, events_read: int, result: dict[str, Any],
                      page: str) -> None:
    await conn.execute(
        """UPDATE replays SET status = 'done', finished_at = now(), events_read = $2, summary = $3,
           result = $4, report_html = $5 WHERE replay_id = $1""",
        replay_id, events_read, result["summary"], result, page)


async def finish_failed(conn: asyncpg.Connection, replay_id: str, error: str) -> None:
    await conn.execute("UPDATE replays SET status = 'failed', finished_at = now(), error = $2 "
                       "WHERE replay_id = $1", replay_id, error)


async def reap(conn: asyncpg.Connection, stale_after_s: float) -> None:
    """Rows whose process stopped while they ran (no heartbeat for a while) become failed."""
    await conn.execute(
        """UPDATE replays SET status = 'failed', finished_at = now(),
                  error = 'interrupted: the process running this replay stopped (no heartbeat since '
                          || to_char(coalesce(heartbeat_at, created_at) AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '); start it again'
           WHERE status = 'running' AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => $1)""",
        stale_after_s)


async def one(conn: asyncpg.Connection, replay_id: str, *, page: bool) -> asyncpg.Record | None:
    """The row with its request and result, or (`page`) only its status, error and HTML page."""
    columns = "status, error, report_html" if page else f"{LISTED}, request, result"
    row: asyncpg.Record | None = await conn.fetchrow(f"SELECT {columns} FROM replays WHERE replay_id = $1",
                                                     replay_id)
    return row


async def progress(conn: asyncpg.Connection, replay_id: str) -> asyncpg.Record | None:
    """What a progress bar needs: the listed columns, without the request, result or page."""
    row: asyncpg.Record | None = await conn.fetchrow(f"SELECT {LISTED} FROM replays WHERE replay_id = $1", replay_id)
    return row


async def recent(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {LISTED} FROM replays ORDER BY created_at DESC LIMIT $1", limit)
    return rows


def as_json(r: asyncpg.Record, *, full: bool) -> dict[str, Any]:
    out = {"replay_id": r["replay_id"], "status": r["status"], "created_at": r["created_at"].isoformat(),
           "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None,
           "heartbeat_at": r["heartbeat_at"].isoformat() if r["heartbeat_at"] else None,
           "events_read": r["events_read"], "events_total": r["events_total"], "summary": r["summary"], "error": r["error"]}
    if full:
        out["request"] = r["request"]
        out["result"] = r["result"]
    return out

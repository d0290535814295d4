"""Read queries over the executor's inbox for the operator console: an application's commands with
their attempts, and the commands that failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


def _plain(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


async def commands_for(conn: asyncpg.Connection, application_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM executor_inbox WHERE application_id = $1 ORDER BY updated_at",
                            application_id)
    return [_plain(r) for r in rows]


async def failed_commands(conn: asyncpg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM executor_inbox WHERE status = 'failed' ORDER BY updated_at DESC LIMIT $1",
                            limit)
    return [_plain(r) for r in rows]

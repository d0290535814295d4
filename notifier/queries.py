"""Read queries over the notifier's tables for the operator console: an application's Slack
messages and recruiter answers, proposals still waiting for a recruiter, failed messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


def _plain(row: Any) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


async def messages_for(conn: asyncpg.Connection, application_id: str) -> list[dict[str, Any]]:
    """Each Slack message about the application with, for a proposal, who answered what."""
    rows = await conn.fetch(
        """SELECT i.command_id, i.command_type, i.status, i.channel, i.ts, i.updated_at,
                  p.decided_by, p.choice, p.decided_at
           FROM notifier_inbox i LEFT JOIN notifier_proposals p USING (command_id)
           WHERE i.application_id = $1 ORDER BY i.updated_at""", application_id)
    return [_plain(r) for r in rows]


async def open_proposals(conn: asyncpg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Rejection proposals posted to a recruiter and not answered yet, oldest first. A proposal is
    saved only after its ProposeRejection was claimed in the inbox, so walking the inbox's
    proposals in posting order (index `notifier_inbox_proposals_posted`) finds every open one and
    stops after `limit`, instead of sorting all the open ones."""
    rows = await conn.fetch(
        """SELECT p.command_id, p.application_id, p.channel, i.updated_at AS posted_at
           FROM notifier_inbox i JOIN notifier_proposals p USING (command_id)
           WHERE i.command_type = 'ProposeRejection' AND p.decided_at IS NULL
           ORDER BY i.updated_at LIMIT $1""", limit)
    return [_plain(r) for r in rows]


async def failed_messages(conn: asyncpg.Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM notifier_inbox WHERE status = 'failed' ORDER BY updated_at DESC LIMIT $1", limit)
    return [_plain(r) for r in rows]

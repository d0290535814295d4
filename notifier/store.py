"""SQL of the notifier's inbox and proposals."""

from __future__ import annotations

import asyncpg


async def claim(conn: asyncpg.Connection, command_id: str, command_type: str, application_id: str | None) -> str | None:
    """Record the command before posting; the status of an earlier attempt, or None if new."""
    row = await conn.fetchrow(
        """INSERT INTO notifier_inbox (command_id, command_type, application_id, status) VALUES ($1, $2, $3, 'started')
           ON CONFLICT (command_id) DO UPDATE SET updated_at = now()
           RETURNING status, (xmax <> 0) AS existed""", command_id, command_type, application_id)
    return row["status"] if row["existed"] else None


async def posted(conn: asyncpg.Connection, command_id: str, channel: str, ts: str) -> None:
    await conn.execute("UPDATE notifier_inbox SET status = 'posted', channel = $2, ts = $3, updated_at = now() "
                       "WHERE command_id = $1", command_id, channel, ts)


async def skipped(conn: asyncpg.Connection, command_id: str) -> None:
    """Not carried out, on purpose (a feedback nudge to someone not in Slack); never retried."""
    await conn.execute("UPDATE notifier_inbox SET status = 'skipped', updated_at = now() WHERE command_id = $1",
                       command_id)


async def failed(conn: asyncpg.Connection, command_id: str) -> None:
    await conn.execute("UPDATE notifier_inbox SET status = 'failed', updated_at = now() WHERE command_id = $1",
                       command_id)


async def save_proposal(conn: asyncpg.Connection, command_id: str, application_id: str, channel: str, ts: str,
                        text: str, blocks: list) -> None:
    await conn.execute(
        """INSERT INTO notifier_proposals (command_id, application_id, channel, ts, text, blocks)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (command_id) DO UPDATE SET channel = EXCLUDED.channel,
           ts = EXCLUDED.ts, text = EXCLUDED.text, blocks = EXCLUDED.blocks""",
        command_id, application_id, channel, ts, text, blocks)


async def decide_proposal(conn: asyncpg.Connection, command_id: str, user: str, choice: str):
    """Mark a proposal decided by the first click only; returns (first?, proposal row or None)."""
    row = await conn.fetchrow(
        """UPDATE notifier_proposals SET decided_by = $2, choice = $3, decided_at = now()
           WHERE command_id = $1 AND decided_by IS NULL RETURNING *""", command_id, user, choice)
    if row is not None:
        return True, row
    return False, await conn.fetchrow("SELECT * FROM notifier_proposals WHERE command_id = $1", command_id)


async def proposal(conn: asyncpg.Connection, command_id: str):
    return await conn.fetchrow("SELECT * FROM notifier_proposals WHERE command_id = $1", command_id)


async def archive_outcome(conn: asyncpg.Connection, application_id: str, outcome: str, reason: str | None):
    """Record Ashby's answer on the newest proposal of the application that a recruiter chose to
    archive (or not decided yet: the click may be processed after the outcome); the row or None."""
    return await conn.fetchrow(
        """UPDATE notifier_proposals SET outcome = $2, outcome_reason = $3
           WHERE command_id = (SELECT command_id FROM notifier_proposals
                               WHERE application_id = $1 AND (choice = 'archive' OR choice IS NULL)
                               ORDER BY decided_at DESC NULLS LAST LIMIT 1)
           RETURNING *""", application_id, outcome, reason)


# --- the undo window of an archive (issue 21) --------------------------------------------------


async def schedule_window(conn: asyncpg.Connection, proposal_command_id: str, archive_command_id: str, due_at):
    """The proposal whose Archive click scheduled this archive now shows its window; the row or None."""
    return await conn.fetchrow(
        """UPDATE notifier_proposals SET archive_command_id = $2, archive_due_at = $3,
                  window_state = COALESCE(window_state, 'scheduled')
           WHERE command_id = $1 RETURNING *""", proposal_command_id, archive_command_id, due_at)


async def save_notice(conn: asyncpg.Connection, archive_command_id: str, application_id: str, channel: str, ts: str,
                      text: str, blocks: list, due_at) -> asyncpg.Record:
    """The message announcing a rule's own archive, kept like a proposal the rule decided itself."""
    return await conn.fetchrow(
        """INSERT INTO notifier_proposals (command_id, application_id, channel, ts, text, blocks, choice, decided_at,
                                           kind, archive_command_id, archive_due_at, window_state)
           VALUES ($1, $2, $3, $4, $5, $6, 'archive', now(), 'archive_notice', $1, $7, 'scheduled')
           ON CONFLICT (command_id) DO UPDATE SET channel = EXCLUDED.channel, ts = EXCLUDED.ts
           RETURNING *""", archive_command_id, application_id, channel, ts, text, blocks, due_at)


async def settle_window(conn: asyncpg.Connection, archive_command_id: str, state: str, by: str | None,
                        reason: str | None):
    """Released, undone or cancelled, once (from scheduled); the row or None."""
    return await conn.fetchrow(
        """UPDATE notifier_proposals SET window_state = $2, window_by = $3, window_reason = $4
           WHERE archive_command_id = $1 AND window_state = 'scheduled' RETURNING *""",
        archive_command_id, state, by, reason)


async def by_archive(conn: asyncpg.Connection, archive_command_id: str):
    return await conn.fetchrow("SELECT * FROM notifier_proposals WHERE archive_command_id = $1", archive_command_id)


async def supersede_proposal(conn: asyncpg.Connection, command_id: str, reason: str):
    """A proposal nobody answered that no longer applies (merged away, moved): it says so; the row or None."""
    return await conn.fetchrow(
        """UPDATE notifier_proposals SET outcome = 'skipped', outcome_reason = $2
           WHERE command_id = $1 AND choice IS NULL AND outcome IS NULL RETURNING *""", command_id, reason)

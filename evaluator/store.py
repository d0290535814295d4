"""SQL of the evaluator's own tables: per-application facts, catalog, rule sets, decisions,
pending evaluations (which double as durable timers) and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from contracts.envelope import Envelope

OUTBOX_CHANNEL = "outbox"


async def lock_application(conn: asyncpg.Connection, application_id: str) -> None:
    """Serialise evaluations of one application across consumer, timers and replicas."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 727))", application_id)


async def add_application_events(conn: asyncpg.Connection, rows: list[tuple[str, int, str, dict]]) -> None:
    if rows:
        await conn.executemany(
            """INSERT INTO evaluator_events (application_id, stream_seq, event_id, envelope)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""", rows)


async def application_events(conn: asyncpg.Connection, application_id: str) -> list[Envelope]:
    rows = await conn.fetch(
        "SELECT envelope FROM evaluator_events WHERE application_id = $1 ORDER BY stream_seq", application_id)
    return [Envelope.model_validate(r["envelope"]) for r in rows]


async def knows_application(conn: asyncpg.Connection, application_id: str) -> bool:
    """Whether any event about the application has reached the evaluator."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM evaluator_events WHERE application_id = $1)",
                                    application_id))


async def add_catalog_event(conn: asyncpg.Connection, env: Envelope, seq: int) -> None:
    await conn.execute("INSERT INTO evaluator_catalog (event_id, stream_seq, envelope) VALUES ($1, $2, $3) "
                       "ON CONFLICT DO NOTHING", env.event_id, seq, env.model_dump(mode="json"))


async def catalog_events(conn: asyncpg.Connection) -> list[Envelope]:
    rows = await conn.fetch("SELECT envelope FROM evaluator_catalog ORDER BY stream_seq")
    return [Envelope.model_validate(r["envelope"]) for r in rows]


async def add_rule_set(conn: asyncpg.Connection, version: int, document: dict, at: datetime, seq: int) -> None:
    await conn.execute(
        """INSERT INTO evaluator_rulesets (version, document, activated_at, stream_seq) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING""", version, document, at, seq)


async def active_rule_set(conn: asyncpg.Connection) -> tuple[int, dict] | None:
    """The most recently activated rule set (by stream order)."""
    row = await conn.fetchrow("SELECT version, document FROM evaluator_rulesets ORDER BY stream_seq DESC LIMIT 1")
    return (row["version"], row["document"]) if row else None


async def record_decision(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
    """Insert a decision once per (version, application, stage, outcome); False if it existed."""
    result = await conn.fetchval(
        """INSERT INTO evaluator_decisions (decision_id, application_id, stage_id, rule_set_version, rule_id, outcome,
               mode, dry_run, command_id, command_type, status, explanation, decided_at, target_stage_id,
               archive_reason_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT DO NOTHING RETURNING decision_id""",
        row["decision_id"], row["application_id"], row["stage_id"], row["rule_set_version"], row["rule_id"],
        row["outcome"], row["mode"], row["dry_run"], row["command_id"], row["command_type"], row["status"],
        row["explanation"], row["decided_at"], row.get("target_stage_id"), row.get("archive_reason_id"))
    return result is not None


async def decision_status(conn: asyncpg.Connection, command_id: str, status: str, reason: str | None) -> None:
    await conn.execute("UPDATE evaluator_decisions SET status = $2, status_reason = $3 WHERE command_id = $1",
                       command_id, status, reason)


async def set_pending(conn: asyncpg.Connection, application_id: str, stage_id: str | None, rule_id: str | None,
                      waiting_for: list, fire_at: datetime | None, now: datetime, *, job_id: str | None = None,
                      plan_id: str | None = None, feedback_due_at: datetime | None = None,
                      late: list | None = None) -> None:
    """`feedback_due_at`, `late`: the earliest due time of the feedback still missing, and each
    interviewer's (feedback nudges; None when the rule has none)."""
    await conn.execute(
        """INSERT INTO evaluator_pending (application_id, stage_id, rule_id, waiting_for, fire_at, updated_at,
                                          job_id, plan_id, feedback_due_at, late)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (application_id) DO UPDATE SET stage_id = EXCLUDED.stage_id, rule_id = EXCLUDED.rule_id,
               waiting_for = EXCLUDED.waiting_for, fire_at = EXCLUDED.fire_at, updated_at = EXCLUDED.updated_at,
               job_id = EXCLUDED.job_id, plan_id = EXCLUDED.plan_id, feedback_due_at = EXCLUDED.feedback_due_at,
               late = EXCLUDED.late""",
        application_id, stage_id, rule_id, waiting_for, fire_at, now, job_id, plan_id, feedback_due_at, late)


async def clear_pending(conn: asyncpg.Connection, application_id: str) -> None:
    await conn.execute("DELETE FROM evaluator_pending WHERE application_id = $1", application_id)


async def due_timers(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> list[str]:
    rows = await conn.fetch(
        """SELECT application_id FROM evaluator_pending WHERE fire_at <= $1 ORDER BY fire_at LIMIT $2""", now, limit)
    return [r["application_id"] for r in rows]


async def enqueue(conn: asyncpg.Connection, subject: str, env: Envelope) -> None:
    """An outbox row (published by the relay after commit); NOTIFY wakes the relay at commit."""
    await conn.execute(
        """INSERT INTO outbox (message_id, subject, envelope) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
        env.event_id, subject, env.model_dump(mode="json"))
    await conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")


# --- feedback nudges (issue 21) ------------------------------------------------------------------


async def nudges_done(conn: asyncpg.Connection, application_id: str) -> set[str]:
    """Ids of every nudge and escalation issued for the application (whatever Slack made of them)."""
    return {r[0] for r in await conn.fetch("SELECT nudge_id FROM evaluator_nudges WHERE application_id = $1",
                                           application_id)}


async def record_nudges(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> int:
    """(nudge_id, kind, application, stage, event, interviewer, due_at, command_id, issued_at) rows;
    how many were new (a repeat is dropped by its id)."""
    if not rows:
        return 0
    inserted = await conn.fetch(
        """INSERT INTO evaluator_nudges (nudge_id, kind, application_id, stage_id, interview_event_id,
               interviewer_id, due_at, command_id, issued_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                $7::timestamptz[], $8::text[], $9::timestamptz[])
           ON CONFLICT DO NOTHING RETURNING nudge_id""", *(list(col) for col in zip(*rows, strict=True)))
    return len(inserted)


async def nudge_status(conn: asyncpg.Connection, command_id: str, status: str, reason: str | None,
                       sent_at: datetime | None) -> None:
    await conn.execute("UPDATE evaluator_nudges SET status = $2, status_reason = $3, sent_at = $4 "
                       "WHERE command_id = $1", command_id, status, reason, sent_at)


# --- archive undo windows (issue 21) ------------------------------------------------------------


async def schedule_archive(conn: asyncpg.Connection, command_id: str, application_id: str, stage_id: str,
                           job_id: str | None, due_at: datetime, subject: str, env: Envelope, now: datetime) -> bool:
    """The archive command kept back until `due_at`; False if it was scheduled before."""
    result = await conn.fetchval(
        """INSERT INTO evaluator_archive_windows (command_id, application_id, stage_id, job_id, due_at, status,
               subject, envelope, scheduled_at)
           VALUES ($1, $2, $3, $4, $5, 'scheduled', $6, $7, $8) ON CONFLICT DO NOTHING RETURNING command_id""",
        command_id, application_id, stage_id, job_id, due_at, subject, env.model_dump(mode="json"), now)
    return result is not None


async def due_archives(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
    rows = await conn.fetch("""SELECT command_id, application_id FROM evaluator_archive_windows
                               WHERE status = 'scheduled' AND due_at <= $1 ORDER BY due_at LIMIT $2""", now, limit)
    return [(r["command_id"], r["application_id"]) for r in rows]


async def archive_window(conn: asyncpg.Connection, command_id: str) -> asyncpg.Record | None:
    """The window's row, locked (call under the application's lock)."""
    return await conn.fetchrow("SELECT * FROM evaluator_archive_windows WHERE command_id = $1 FOR UPDATE", command_id)


async def open_archive_windows(conn: asyncpg.Connection, application_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("""SELECT * FROM evaluator_archive_windows WHERE application_id = $1
                               AND status = 'scheduled' ORDER BY due_at FOR UPDATE""", application_id)


async def settle_archive(conn: asyncpg.Connection, command_id: str, status: str, now: datetime, by: str | None,
                         reason: str | None) -> None:
    await conn.execute("""UPDATE evaluator_archive_windows SET status = $2, settled_at = $3, settled_by = $4,
                          reason = $5 WHERE command_id = $1 AND status = 'scheduled'""",
                       command_id, status, now, by, reason)


async def pending_row(conn: asyncpg.Connection, application_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluator_pending WHERE application_id = $1", application_id)


async def open_proposals(conn: asyncpg.Connection, application_id: str) -> list[asyncpg.Record]:
    """Rejection proposals still waiting for (or posted to) a recruiter."""
    return await conn.fetch("""SELECT command_id, stage_id FROM evaluator_decisions WHERE application_id = $1
                               AND outcome = 'propose_rejection' AND command_id IS NOT NULL
                               AND status IN ('pending', 'succeeded', 'awaiting_recruiter')""", application_id)

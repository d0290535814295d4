"""The undo window of archives and the cancellations of merged / moved applications (issue 21).

An archive decision's command is kept in `evaluator_archive_windows` for `archive_delay` instead of
going to the outbox at once; the timer loop releases it to the outbox at its due time (the
executor then carries it out as any command: lease, stale guard, reconcile). An Undo before that
settles the row as `undone` and the command is never published. Both run under the application's
advisory lock with the row locked, so a window is released or undone, never both. Every step is an
event written to the outbox in the same transaction as the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg
import structlog

from contracts import subjects
from contracts.envelope import Envelope
from contracts.events import (
    ArchiveReleased,
    ArchiveScheduled,
    ArchiveUndone,
    ArchiveUndoRefused,
    DecisionsCancelled,
    Payload,
)
from contracts.ids import derive_id
from evaluator import store
from evaluator.pure_core import AppState

log = structlog.get_logger(__name__)


def _event(event_type: str, event_id: str, app: str, payload: Payload, now: datetime,
           cause: Envelope | None) -> tuple[str, Envelope]:
    env = Envelope(event_id=event_id, event_type=event_type, key=app, occurred_at=now, recorded_at=now,
                   correlation_id=cause.correlation_id if cause else None,
                   causation_id=cause.event_id if cause else None, source="evaluator",
                   payload=payload.model_dump(mode="json"))
    return subjects.event_subject("evaluator", event_type, app), env


async def schedule(conn: asyncpg.Connection, subject: str, command: Envelope, decision: dict[str, Any],
                   job_id: str | None, delay_s: float, now: datetime) -> None:
    """Keep the archive command back for `delay_s`; `ArchiveScheduled` says until when."""
    p = command.payload
    app, command_id = p["application_id"], p["command_id"]
    due = now + timedelta(seconds=delay_s)
    if not await store.schedule_archive(conn, command_id, app, p["from_stage_id"], job_id, due, subject, command, now):
        return
    explanation = decision.get("explanation") or {}
    payload = ArchiveScheduled(
        command_id=command_id, application_id=app, decision_id=decision["decision_id"], stage_id=p["from_stage_id"],
        job_id=job_id, archive_reason_id=p.get("archive_reason_id"),
        archive_email_template_id=p.get("archive_email_template_id"), decided_by=p.get("decided_by") or "rule",
        proposal_command_id=explanation.get("proposal_command_id"), rule_id=p.get("rule_id"), delay_s=delay_s,
        due_at=due.isoformat(), explanation=explanation)
    await store.enqueue(conn, *_event("ArchiveScheduled", derive_id("archive-scheduled", command_id), app, payload,
                                      now, command))
    await store.decision_status(conn, command_id, "scheduled", f"undo window until {due.isoformat()}")
    log.info("archive_scheduled", key=app, command_id=command_id, due_at=due.isoformat())


async def release_due(pool: asyncpg.Pool, now: datetime) -> int:
    """Hand every archive whose window has ended to the outbox (once: the row is settled in the
    same transaction, and the outbox keys rows by the command id)."""
    async with pool.acquire() as conn:
        due = await store.due_archives(conn, now)
    released = 0
    for command_id, app in due:
        async with pool.acquire() as conn, conn.transaction():
            await store.lock_application(conn, app)
            row = await store.archive_window(conn, command_id)
            if row is None or row["status"] != "scheduled" or row["due_at"] > now:
                continue
            command = Envelope.model_validate(row["envelope"])
            await store.enqueue(conn, row["subject"], command)
            await store.settle_archive(conn, command_id, "released", now, None, None)
            payload = ArchiveReleased(command_id=command_id, application_id=app, due_at=row["due_at"].isoformat(),
                                      released_at=now.isoformat())
            await store.enqueue(conn, *_event("ArchiveReleased", derive_id("archive-released", command_id), app,
                                              payload, now, command))
            await store.decision_status(conn, command_id, "pending", None)
            released += 1
            log.info("archive_released", key=app, command_id=command_id)
    return released


async def undo(conn: asyncpg.Connection, request: Envelope, now: datetime) -> None:
    """An Undo click: cancel the archive if its window is still open, else say why not."""
    p = request.payload
    app, command_id, user = p["application_id"], p["archive_command_id"], p["slack_user_id"]
    await store.lock_application(conn, app)
    row = await store.archive_window(conn, command_id)
    if row is not None and row["application_id"] != app:
        row = None  # a click naming another application's archive changes nothing
    if row is not None and row["status"] == "scheduled":
        await store.settle_archive(conn, command_id, "undone", now, user, "undone in Slack")
        undone = ArchiveUndone(command_id=command_id, application_id=app, undone_by=user, undone_at=now.isoformat(),
                               due_at=row["due_at"].isoformat())
        await store.enqueue(conn, *_event("ArchiveUndone", derive_id("archive-undone", command_id), app, undone,
                                          now, request))
        await store.decision_status(conn, command_id, "undone", user)
        log.info("archive_undone", key=app, command_id=command_id)
        return
    reason, detail, released = _refusal(row)
    refused = ArchiveUndoRefused(command_id=command_id, application_id=app, slack_user_id=user, reason=reason,
                                 detail=detail, released_at=released, channel=p.get("channel"),
                                 message_ts=p.get("message_ts"))
    await store.enqueue(conn, *_event("ArchiveUndoRefused", derive_id("archive-undo-refused", request.event_id), app,
                                      refused, now, request))
    log.info("archive_undo_refused", key=app, command_id=command_id, reason=reason)


def _refusal(row: asyncpg.Record | None) -> tuple[Any, str, str | None]:
    if row is None:
        return "unknown", "there is no scheduled archive for this button", None
    settled = row["settled_at"].isoformat() if row["settled_at"] else None
    if row["status"] == "released":
        return ("too_late", f"the undo window ended at {row['due_at'].isoformat()} and the archive was sent to "
                            "Ashby", settled)
    if row["status"] == "undone":
        return "already_undone", f"the archive was already undone by {row['settled_by']}", None
    return "cancelled", f"the archive was cancelled: {row['reason']}", None


async def cancel_if_gone(conn: asyncpg.Connection, state: AppState, cause: Envelope | None, now: datetime) -> None:
    """Merged away, or moved to another job, plan or stage in Ashby: what was pending for the old
    place (a wait, a scheduled archive, a proposal no recruiter answered) is cancelled with the
    reason, as one `DecisionsCancelled`."""
    app = state.application_id
    pos = state.position()
    if state.merged is None and pos is None:
        return
    windows = await store.open_archive_windows(conn, app)
    pending = await store.pending_row(conn, app)
    proposals = await store.open_proposals(conn, app)
    cause_kind: Literal["merged", "moved"]
    if state.merged is not None:
        survivor, reason, cause_kind = state.merged.surviving_application_id, state.merged.reason, "merged"
        gone_windows, gone_pending, gone_proposals = list(windows), pending, list(proposals)
        stage = pending["stage_id"] if pending else None
    else:
        assert pos is not None
        survivor = None
        gone_windows = [w for w in windows if w["stage_id"] != pos.stage_id
                        or (w["job_id"] and pos.job_id and w["job_id"] != pos.job_id)]
        gone_proposals = [p for p in proposals if p["stage_id"] != pos.stage_id]
        moved_pending = pending is not None and pending["stage_id"] is not None and bool(
            (pending["job_id"] and pos.job_id and pending["job_id"] != pos.job_id)
            or (pending["plan_id"] and pos.plan_id and pending["plan_id"] != pos.plan_id))
        gone_pending = pending if moved_pending else None
        was = gone_pending or (gone_windows[0] if gone_windows else None) or \
            (gone_proposals[0] if gone_proposals else None)
        if was is None:
            return
        reason = (f"application moved in Ashby to stage {pos.stage_id} (job {pos.job_id}, plan {pos.plan_id}); "
                  f"it was in stage {was['stage_id']}")
        cause_kind, stage = "moved", was["stage_id"]
    if not gone_windows and gone_pending is None and not gone_proposals:
        return
    ids = [w["command_id"] for w in gone_windows]
    for command_id in ids:
        await store.settle_archive(conn, command_id, "cancelled", now, None, reason)
    ids += [p["command_id"] for p in gone_proposals]
    for command_id in ids:
        await store.decision_status(conn, command_id, "cancelled", reason)
    waiting = list(gone_pending["waiting_for"] or []) if gone_pending else []
    if gone_pending is not None:
        await store.clear_pending(conn, app)
    payload = DecisionsCancelled(application_id=app, reason=reason, cause=cause_kind,
                                 surviving_application_id=survivor, stage_id=stage, cancelled_command_ids=ids,
                                 waiting_for=waiting)
    event_id = derive_id("decisions-cancelled", app, cause_kind, stage, survivor, *(ids or ["pending"]),
                         pos.job_id if pos else None, pos.plan_id if pos else None, pos.stage_id if pos else None)
    await store.enqueue(conn, *_event("DecisionsCancelled", event_id, app, payload, now, cause))
    log.info("decisions_cancelled", key=app, cause=cause_kind, cancelled=len(ids), pending=gone_pending is not None)

"""The live side of feedback nudges (issue 21): inside the evaluator's transaction, record the nudges
and escalations `evaluator.nudges.plan` says are due and put their commands in the outbox; return
when to look again, which the evaluator's pending row keeps as its durable timer (`fire_at`), the
same timer the quiet period and the stage timeout use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from contracts import subjects
from contracts.commands import EscalateFeedback, NudgeInterviewer
from contracts.envelope import Envelope
from contracts.events import LateFeedback
from evaluator import store
from evaluator.application_state import AppState
from evaluator.business_hours import BusinessCalendar
from evaluator.decision_and_timers import Wait
from evaluator.nudges import Missing, escalation_command_id, missing_feedback, nudge_id, plan
from evaluator.rules import Rule, RuleSet

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Nudging:
    next_at: datetime | None
    feedback_due_at: datetime | None
    late: list[dict]


async def nudge(conn: asyncpg.Connection, rules: RuleSet, rule: Rule, state: AppState, wait: Wait,
                calendar: BusinessCalendar, now: datetime, cause: Envelope | None, *,
                takes_effect: bool) -> Nudging | None:
    """None when the rule sends no nudges or the wait is not for feedback alone. Shadow mode and
    dry-run record when feedback is due (for /api/overdue) and send nothing."""
    due = rules.feedback_due_for(rule)
    if due is None or wait.stage_id is None:
        return None
    missing = missing_feedback(state, wait.reasons, due, rules.escalate_after_for(rule), calendar)
    if not missing:
        return None
    app, stage = state.application_id, wait.stage_id
    done = await store.nudges_done(conn, app)
    if takes_effect:
        todo = plan(app, stage, missing, done, now, calendar)
        await _issue(conn, rule, rules.version or 0, app, stage, todo.nudges, todo.escalations, now, cause)
        done = done | {nudge_id("nudge", app, stage, m) for m in todo.nudges} \
            | {nudge_id("escalation", app, stage, m) for m in todo.escalations}
        next_at = todo.next_at
    else:
        next_at = None
    return Nudging(next_at, min(m.due_at for m in missing), [m.as_dict(done, app, stage) for m in missing])


async def _issue(conn: asyncpg.Connection, rule: Rule, version: int, app: str, stage: str,
                 nudges: tuple[Missing, ...], escalations: tuple[Missing, ...], now: datetime,
                 cause: Envelope | None) -> None:
    for m in nudges:
        cid = nudge_id("nudge", app, stage, m)
        if await store.record_nudges(conn, [(cid, "nudge", app, stage, m.interview_event_id, m.interviewer_id,
                                             m.due_at, cid, now)]):
            command = NudgeInterviewer(command_id=cid, application_id=app, stage_id=stage,
                                       interviewer_id=m.interviewer_id, interview_event_id=m.interview_event_id,
                                       interview_id=m.interview_id, feedback_link=m.feedback_link,
                                       due_at=m.due_at.isoformat(), rule_id=rule.id, rule_set_version=version)
            await _enqueue(conn, "nudge", command, app, now, cause)
    if escalations:
        cid = escalation_command_id(app, stage, escalations)
        rows = [(nudge_id("escalation", app, stage, m), "escalation", app, stage, m.interview_event_id,
                 m.interviewer_id, m.due_at, cid, now) for m in escalations]
        if await store.record_nudges(conn, rows):
            late = [LateFeedback(interviewer_id=m.interviewer_id, interview_event_id=m.interview_event_id,
                                 interview_id=m.interview_id, due_at=m.due_at.isoformat()) for m in escalations]
            await _enqueue(conn, "escalate", EscalateFeedback(command_id=cid, application_id=app, stage_id=stage,
                                                              late=late, rule_id=rule.id, rule_set_version=version),
                           app, now, cause)
    if nudges or escalations:
        log.info("feedback_nudges_issued", key=app, nudges=len(nudges), escalated=len(escalations), rule_id=rule.id)


async def _enqueue(conn: asyncpg.Connection, verb: str, command: NudgeInterviewer | EscalateFeedback, app: str,
                   now: datetime, cause: Envelope | None) -> None:
    env = Envelope(event_id=command.command_id, event_type=type(command).__name__, key=app, occurred_at=now,
                   recorded_at=now, correlation_id=cause.correlation_id if cause else None,
                   causation_id=cause.event_id if cause else None, source="evaluator",
                   payload=command.model_dump(mode="json"))
    await store.enqueue(conn, subjects.command_subject("slack", verb, app), env)

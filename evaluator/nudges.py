"""Feedback nudges and stage SLAs (pure): for an application whose decision waits only for missing
feedback, when each interviewer's feedback is due (`feedback_due` after their interview ended),
when lateness goes to the recruiter (`escalate_after` after that), what to send now, and when to
look again. Times are counted and delivered by a `BusinessCalendar` (docs/rules.md)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from contracts.envelope import parse_time
from contracts.ids import derive_id
from evaluator.application_state import AppState
from evaluator.business_hours import BusinessCalendar
from evaluator.fast_init import quick_init
from evaluator.stage_assessment import WaitReason


@quick_init
@dataclass(frozen=True, slots=True)
class Missing:
    """One interviewer's feedback for one interview event, with its due and escalation times."""

    interviewer_id: str
    interview_event_id: str
    interview_id: str | None
    feedback_link: str | None
    due_at: datetime
    escalate_at: datetime | None

    def as_dict(self, done: Collection[str], application_id: str, stage_id: str) -> dict[str, Any]:
        return {"interviewer_id": self.interviewer_id, "interview_event_id": self.interview_event_id,
                "interview_id": self.interview_id, "due_at": self.due_at.isoformat(),
                "escalate_at": self.escalate_at.isoformat() if self.escalate_at else None,
                "nudge_issued": nudge_id("nudge", application_id, stage_id, self) in done,
                "escalation_issued": nudge_id("escalation", application_id, stage_id, self) in done}


@quick_init
@dataclass(frozen=True, slots=True)
class NudgePlan:
    nudges: tuple[Missing, ...]
    """Interviewers to DM now (each once per due time)."""
    escalations: tuple[Missing, ...]
    """Late feedback to tell the recruiter / hiring manager about now (one message)."""
    next_at: datetime | None
    """When something next falls due (or, if due while business hours are closed, when they open)."""


def nudge_id(kind: str, application_id: str, stage_id: str, m: Missing) -> str:
    """Once per (kind, application, stage, interview event, interviewer, due time): a changed due
    time (the interview moved) is a new nudge; re-evaluation repeats the id."""
    return derive_id("feedback-" + kind, application_id, stage_id, m.interview_event_id, m.interviewer_id,
                     m.due_at.isoformat())


def escalation_command_id(application_id: str, stage_id: str, late: Iterable[Missing]) -> str:
    return derive_id("feedback-escalation-command", application_id, stage_id,
                     *sorted(nudge_id("escalation", application_id, stage_id, m) for m in late))


def missing_feedback(state: AppState, reasons: Iterable[WaitReason], feedback_due: timedelta,
                     escalate_after: timedelta | None, calendar: BusinessCalendar) -> tuple[Missing, ...]:
    """The missing feedback with its due times, when the evaluation is blocked *only* by missing
    feedback (any other reason — an interview not scheduled, a field left empty — and nobody is
    nudged). An interview event Ashby gave no end time is not nudged."""
    reasons = tuple(reasons)
    if not reasons or any(r.kind != "feedback" for r in reasons):
        return ()
    found = []
    for r in reasons:
        schedule = state.schedules.get(r.schedule_id or "")
        slot = next((e for e, _ in schedule.events if e.id == r.interview_event_id), None) if schedule else None
        ended = parse_time(slot.end_time) if slot is not None else None
        if slot is None or ended is None or r.interviewer_id is None:
            continue
        due = calendar.next_open(calendar.add(ended, feedback_due))
        escalate = calendar.next_open(calendar.add(due, escalate_after)) if escalate_after is not None else None
        found.append(Missing(r.interviewer_id, slot.id, slot.interview_id, slot.feedback_link, due, escalate))
    return tuple(found)


def plan(application_id: str, stage_id: str, missing: Iterable[Missing], done: Collection[str], now: datetime,
         calendar: BusinessCalendar) -> NudgePlan:
    """What is due now and not sent before (`done`: ids from `nudge_id`). Nothing is sent outside
    business hours: what falls due then waits for the next opening."""
    open_now = calendar.is_open(now)
    nudges: list[Missing] = []
    escalations: list[Missing] = []
    upcoming: list[datetime] = []
    for m in missing:
        for kind, at in (("nudge", m.due_at), ("escalation", m.escalate_at)):
            if at is None or nudge_id(kind, application_id, stage_id, m) in done:
                continue
            if at <= now and open_now:
                (nudges if kind == "nudge" else escalations).append(m)
            else:
                upcoming.append(at if at > now else calendar.next_open(now))
    return NudgePlan(tuple(nudges), tuple(escalations), min(upcoming, default=None))

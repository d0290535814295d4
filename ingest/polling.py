"""Pure poll-watch logic: which applications to poll, for what, and until when.

A schedule webhook asks for the application's snapshot once (and again when its stage changes).
The sync pass finds feedback for everyone; on top, a schedule reaching WaitingOnFeedback/Complete in
a stage some active rule decides gets a targeted, decaying feedback check (soon, then doubling to a
ceiling) that stops when its feedback is complete, the stage moves, or its window ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from contracts.ashby import FEEDBACK_DUE_STATUSES, InterviewSchedule
from contracts.envelope import Envelope, parse_time

STAGE_CHANGE_ACTIONS = frozenset({"candidateStageChange", "applicationUpdate", "candidateHire",
                                  "interviewPlanTransition"})


@dataclass(frozen=True, slots=True)
class Decay:
    """Targeted feedback checks: `first` after the interview ends, doubling to `ceiling`, for `window`."""

    first: timedelta
    ceiling: timedelta
    window: timedelta

    @classmethod
    def of_seconds(cls, first: float, ceiling: float, window: float) -> Decay:
        return cls(timedelta(seconds=first), timedelta(seconds=max(first, ceiling)), timedelta(seconds=window))


def decidable_stages(rule_set_document: dict[str, Any]) -> frozenset[str]:
    """The stages some rule of an activated rule set decides (live or shadow)."""
    rules = rule_set_document.get("rules") if isinstance(rule_set_document, dict) else None
    return frozenset(str(r["stage_id"]) for r in rules or [] if isinstance(r, dict) and r.get("stage_id"))


@dataclass(frozen=True, slots=True)
class Watch:
    application_id: str
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshot_stage_id: str | None = None
    snapshot_needed: bool = False
    feedback_due: bool = False
    poll_until: datetime | None = None
    next_poll_at: datetime | None = None
    feedback_at: datetime | None = None  # the next targeted feedback check
    delay_s: float = 0.0  # the gap before the check after that one (doubles to the ceiling)

    def to_json(self) -> dict[str, Any]:
        return {"schedules": self.schedules, "snapshot_stage_id": self.snapshot_stage_id,
                "snapshot_needed": self.snapshot_needed, "feedback_due": self.feedback_due,
                "poll_until": self.poll_until.isoformat() if self.poll_until else None,
                "feedback_at": self.feedback_at.isoformat() if self.feedback_at else None, "delay_s": self.delay_s}

    @classmethod
    def from_json(cls, application_id: str, doc: dict[str, Any], next_poll_at: datetime | None) -> Watch:
        return cls(application_id, dict(doc.get("schedules") or {}), doc.get("snapshot_stage_id"),
                   bool(doc.get("snapshot_needed")), bool(doc.get("feedback_due")),
                   parse_time(doc.get("poll_until")), next_poll_at, parse_time(doc.get("feedback_at")),
                   float(doc.get("delay_s") or 0.0))


def _schedule_entry(schedule: InterviewSchedule) -> dict[str, Any]:
    required = sorted({uid for ev in schedule.interview_events for uid in ev.required_interviewer_ids()})
    return {"status": schedule.status, "stage_id": schedule.interview_stage_id,
            "updated_at": schedule.updated_at, "required": required}


def _newer(entry: dict[str, Any], current: dict[str, Any] | None) -> bool:
    if current is None:
        return True
    new_ts, old_ts = parse_time(entry.get("updated_at")), parse_time(current.get("updated_at"))
    return old_ts is None or (new_ts is not None and new_ts >= old_ts)


def on_event(watch: Watch | None, event: Envelope, now: datetime, decay: Decay,
             decidable: frozenset[str]) -> Watch | None:
    """The watch after an event, or None when the event says nothing about polling. `decidable` are
    the stages the active rule set decides: feedback checks only for schedules in those."""
    if event.event_type == "InterviewScheduleUpdated":
        schedule = InterviewSchedule.model_validate(event.payload["schedule"])
        w = watch or Watch(schedule.application_id)
        entry = _schedule_entry(schedule)
        schedules = dict(w.schedules)
        if _newer(entry, schedules.get(schedule.id)):
            schedules[schedule.id] = entry
        w = replace(w, schedules=schedules)
        if w.snapshot_stage_id != schedule.interview_stage_id:
            w = replace(w, snapshot_needed=True)
        if (schedule.status in FEEDBACK_DUE_STATUSES and schedules[schedule.id]["status"] in FEEDBACK_DUE_STATUSES
                and schedule.interview_stage_id in decidable):
            until, first = now + decay.window, now + decay.first
            w = replace(w, feedback_due=True, poll_until=max(w.poll_until or until, until),
                        delay_s=decay.first.total_seconds(),
                        feedback_at=min(w.feedback_at, first) if w.feedback_due and w.feedback_at else first)
        return replace(w, next_poll_at=next_poll(w, now))
    if event.event_type == "AshbyWebhookReceived" and event.payload.get("action") in STAGE_CHANGE_ACTIONS:
        w = watch or Watch(event.key)
        return replace(w, snapshot_needed=True, next_poll_at=now)
    if event.event_type == "CommandSucceeded" and event.payload.get("application_id") and watch is not None:
        return replace(watch, snapshot_needed=True, next_poll_at=now)
    return None


def required_interviewers(watch: Watch) -> set[str]:
    """Interviewers whose feedback is required in the current stage's live schedules."""
    stage = watch.snapshot_stage_id
    return {uid for s in watch.schedules.values()
            if s.get("status") != "Cancelled" and (stage is None or s.get("stage_id") == stage)
            for uid in s.get("required") or []}


def _due_in_stage(watch: Watch) -> bool:
    """Some live schedule of the current stage (as last seen) still waits on feedback."""
    stage = watch.snapshot_stage_id
    return any(s.get("status") in FEEDBACK_DUE_STATUSES and (stage is None or s.get("stage_id") == stage)
               for s in watch.schedules.values())


def after_snapshot(watch: Watch, stage_id: str | None) -> Watch:
    """The stage as Ashby says it is; a stage that moved away from the due schedules stops the checks."""
    w = replace(watch, snapshot_needed=False, snapshot_stage_id=stage_id)
    return w if _due_in_stage(w) else replace(w, feedback_due=False, feedback_at=None)


def after_feedback_poll(watch: Watch, submitted_by: set[str], now: datetime, decay: Decay) -> Watch:
    """Stop when all required interviewers submitted, the stage moved or the window passed; else
    check again after twice the last gap (up to the ceiling)."""
    done = (required_interviewers(watch) <= submitted_by or not _due_in_stage(watch)
            or (watch.poll_until is not None and now >= watch.poll_until))
    if done:
        return replace(watch, feedback_due=False, feedback_at=None)
    gap = min(decay.ceiling.total_seconds(), 2 * max(watch.delay_s, decay.first.total_seconds()))
    return replace(watch, delay_s=gap, feedback_at=now + timedelta(seconds=gap))


def feedback_check_due(watch: Watch, now: datetime) -> bool:
    return watch.feedback_due and (watch.feedback_at is None or watch.feedback_at <= now)


def next_poll(watch: Watch, now: datetime) -> datetime | None:
    if watch.snapshot_needed:
        return now
    return (watch.feedback_at or now) if watch.feedback_due else None


def merge_after_poll(loaded: Watch, polled: Watch, current: Watch | None, now: datetime) -> Watch:
    """The watch to store after a poll. If events changed it meanwhile, theirs wins (and it is
    polled again soon), keeping the stage our snapshot saw."""
    if current is None or current.to_json() == loaded.to_json():
        result = polled
    else:
        result = replace(current, snapshot_stage_id=polled.snapshot_stage_id
                         if not polled.snapshot_needed else current.snapshot_stage_id)
    return replace(result, next_poll_at=next_poll(result, now))

"""Pure mapping of schedule events to read-model rows; newest `updatedAt` per schedule wins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts.ashby import InterviewSchedule
from contracts.consumers import Delivered
from contracts.envelope import parse_time


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    schedule_id: str
    application_id: str
    interview_stage_id: str
    candidate_id: str | None
    status: str
    updated_at: datetime | None
    source_event_id: str
    stream_seq: int
    raw: dict


@dataclass(frozen=True, slots=True)
class EventRow:
    interview_event_id: str
    schedule_id: str
    application_id: str
    interview_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    raw: dict


@dataclass(frozen=True, slots=True)
class InterviewerRow:
    interview_event_id: str
    user_id: str
    schedule_id: str
    is_feedback_required: bool


@dataclass(frozen=True, slots=True)
class ScheduleProjection:
    schedule: ScheduleRow
    events: tuple[EventRow, ...]
    interviewers: tuple[InterviewerRow, ...]


def to_projection(d: Delivered) -> ScheduleProjection | None:
    """Rows for one InterviewScheduleUpdated event; None for any other event."""
    if d.envelope.event_type != "InterviewScheduleUpdated":
        return None
    raw = d.envelope.payload.get("schedule") or {}
    schedule = InterviewSchedule.model_validate(raw)
    row = ScheduleRow(schedule.id, schedule.application_id, schedule.interview_stage_id, schedule.candidate_id,
                      schedule.status, parse_time(schedule.updated_at), d.envelope.event_id, d.stream_seq, raw)
    raw_events = raw.get("interviewEvents") or []
    events, interviewers = [], {}
    for ev, ev_raw in zip(schedule.interview_events, raw_events, strict=False):
        events.append(EventRow(ev.id, schedule.id, schedule.application_id, ev.interview_id,
                               parse_time(ev.start_time), parse_time(ev.end_time), ev_raw))
        required = set(ev.required_interviewer_ids())
        for uid in [i.id for i in ev.interviewers] or ev.interviewer_user_ids:
            interviewers[(ev.id, uid)] = InterviewerRow(ev.id, uid, schedule.id, uid in required)
    return ScheduleProjection(row, tuple(events), tuple(interviewers.values()))


def _order_key(p: ScheduleProjection) -> tuple:
    ts = p.schedule.updated_at
    return (ts is not None, ts.timestamp() if ts else 0.0, p.schedule.stream_seq)


def newest_per_schedule(projections: list[ScheduleProjection]) -> list[ScheduleProjection]:
    """Reduce a batch to one projection per schedule: the newest by updatedAt, then stream order."""
    best: dict[str, ScheduleProjection] = {}
    for p in projections:
        current = best.get(p.schedule.schedule_id)
        if current is None or _order_key(p) >= _order_key(current):
            best[p.schedule.schedule_id] = p
    return list(best.values())

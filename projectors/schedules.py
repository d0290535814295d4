"""Pure mapping of schedule events to read-model rows; newest `updatedAt` per schedule wins.

The rows hold what queries need; Ashby's JSON stays in `event_log`, found by `source_event_id`.
They are named tuples, not frozen dataclasses: the projector makes several per schedule update,
and a frozen dataclass costs about five times as much to create."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from contracts.ashby import InterviewSchedule
from contracts.consumers import Delivered
from contracts.envelope import parse_time


class ScheduleRow(NamedTuple):
    schedule_id: str
    application_id: str
    interview_stage_id: str
    candidate_id: str | None
    status: str
    updated_at: datetime | None
    source_event_id: str
    stream_seq: int


class EventRow(NamedTuple):
    interview_event_id: str
    schedule_id: str
    application_id: str
    interview_id: str | None
    start_time: datetime | None
    end_time: datetime | None


class InterviewerRow(NamedTuple):
    interview_event_id: str
    user_id: str
    schedule_id: str
    is_feedback_required: bool


class ScheduleProjection(NamedTuple):
    schedule: ScheduleRow
    events: tuple[EventRow, ...]
    interviewers: tuple[InterviewerRow, ...]


def to_projection(d: Delivered) -> ScheduleProjection | None:
    """Rows for one InterviewScheduleUpdated event; None for any other event."""
    if d.envelope.event_type != "InterviewScheduleUpdated":
        return None
    raw = d.envelope.payload.get("schedule") or {}
    sid, app, stage, candidate, status, updated, events = _plain(raw) or _validated(raw)
    rows, interviewers = [], {}
    for ev_id, interview_id, start, end, people in events:
        rows.append(EventRow(ev_id, sid, app, interview_id, parse_time(start), parse_time(end)))
        for uid, required in people:
            interviewers[(ev_id, uid)] = InterviewerRow(ev_id, uid, sid, required)
    schedule = ScheduleRow(sid, app, stage, candidate, status, parse_time(updated), d.envelope.event_id, d.stream_seq)
    return ScheduleProjection(schedule, tuple(rows), tuple(interviewers.values()))


def _validated(raw: dict[str, Any]) -> tuple[Any, ...]:
    """The fields the rows need, through the Ashby model (which raises on a malformed schedule)."""
    s = InterviewSchedule.model_validate(raw)
    events = []
    for ev in s.interview_events:
        required = set(ev.required_interviewer_ids())
        people = [(uid, uid in required) for uid in [i.id for i in ev.interviewers] or ev.interviewer_user_ids]
        events.append((ev.id, ev.interview_id, ev.start_time, ev.end_time, people))
    return s.id, s.application_id, s.interview_stage_id, s.candidate_id, s.status, s.updated_at, events


_OPTIONAL_TEXT = (str, type(None))


def _plain(raw: dict[str, Any]) -> tuple[Any, ...] | None:
    """The same fields read straight from the dict when each one it reads already has the exact
    type the model wants (what Ashby sends); None otherwise, and `_validated` decides. Fields the
    rows do not use are not checked. A third of the cost of the model, and the projector reads
    every schedule update."""
    sid, app, stage, status = raw.get("id"), raw.get("applicationId"), raw.get("interviewStageId"), raw.get("status")
    candidate, updated = raw.get("candidateId"), raw.get("updatedAt")
    if not (type(sid) is str and type(app) is str and type(stage) is str and type(status) is str
            and sid and app and stage and status
            and type(candidate) in _OPTIONAL_TEXT and type(updated) in _OPTIONAL_TEXT):
        return None
    events = []
    for ev in raw.get("interviewEvents") or ():
        if type(ev) is not dict:
            return None
        ev_id, interview_id, start, end = ev.get("id"), ev.get("interviewId"), ev.get("startTime"), ev.get("endTime")
        if not (type(ev_id) is str and type(interview_id) in _OPTIONAL_TEXT and type(start) in _OPTIONAL_TEXT
                and type(end) in _OPTIONAL_TEXT):
            return None
        people: list[tuple[str, bool]] = []
        for person in ev.get("interviewers") or ():
            if type(person) is not dict:
                return None
            uid, required = person.get("id"), person.get("isFeedbackRequired", True)
            if type(uid) is not str or type(required) is not bool:
                return None
            people.append((uid, required))
        ids = ev.get("interviewerUserIds") or []
        if type(ids) is not list:
            return None
        for uid in ids:
            if type(uid) is not str:
                return None
        if not people:  # the deprecated id list, every one of them required
            people = [(uid, True) for uid in ids]
        events.append((ev_id, interview_id, start, end, people))
    return sid, app, stage, candidate, status, updated, events


def _order_key(p: ScheduleProjection) -> tuple[bool, float, int]:
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


class ChildrenChange(NamedTuple):
    """What to write so that the written schedules' stored events and interviewers become the listed ones."""

    gone_events: list[str]  # interview event ids
    gone_people: list[tuple[str, str]]  # (interview event id, user id)
    events: list[EventRow]  # new or changed
    people: list[InterviewerRow]  # new or changed


def children_change(chosen: list[ScheduleProjection], stored_events: list[tuple[Any, ...]],
                    stored_people: list[tuple[Any, ...]]) -> ChildrenChange:
    """The difference between the rows stored for these schedules (tuples in the order of
    `EventRow` / `InterviewerRow`) and the rows their projections list. A listed row stored under
    another schedule (Ashby moved the event) counts as changed: its upsert moves it."""
    events = {e.interview_event_id: e for p in chosen for e in p.events}
    people = {(i.interview_event_id, i.user_id): i for p in chosen for i in p.interviewers}
    have_events = {row[0]: row for row in stored_events}
    have_people = {(row[0], row[1]): row for row in stored_people}
    return ChildrenChange(
        [k for k in have_events if k not in events], [k for k in have_people if k not in people],
        [e for k, e in events.items() if have_events.get(k) != tuple(e)],
        [i for k, i in people.items() if have_people.get(k) != tuple(i)])

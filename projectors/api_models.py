"""The typed answers of `/api/applications/{id}` and `/api/events` (shown as schemas in the OpenAPI)."""

from __future__ import annotations

from typing import Any

import msgspec


class FeedbackView(msgspec.Struct, kw_only=True):
    feedback_id: str
    submitted_at: str | None
    submitted_by_user_id: str | None
    interview_id: str | None
    interview_event_id: str | None
    form_definition_id: str | None
    submitted_values: dict[str, Any]


class InterviewEventView(msgspec.Struct, kw_only=True):
    interview_event_id: str
    interview_id: str | None
    start_time: str | None
    end_time: str | None
    interviewer_ids: list[str]
    feedback_required_from: list[str]


class ScheduleView(msgspec.Struct, kw_only=True):
    schedule_id: str
    interview_stage_id: str
    status: str
    updated_at: str | None
    events: list[InterviewEventView]


class CommandStep(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One event of a command's story: an attempt, a lost answer, a reconciliation or the outcome."""

    event_type: str
    recorded_at: str
    attempt: int | None = None
    replica: str | None = None
    verdict: str | None = None
    reason: str | None = None
    reconcile_first: str | None = None


class CommandStory(msgspec.Struct, kw_only=True):
    command_id: str
    command_type: str | None
    events: list[CommandStep]


class NudgeEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A feedback nudge or escalation Slack accepted (issue 21): `FeedbackNudgeSent` (one interviewer)
    or `FeedbackEscalated` (`late`: each late interviewer; `recipients`: the roles told). Ids only."""

    event_type: str
    command_id: str
    stage_id: str
    sent_at: str
    interviewer_id: str | None = None
    interview_event_id: str | None = None
    interview_id: str | None = None
    due_at: str | None = None
    late: list[dict[str, Any]] | None = None
    recipients: list[str] | None = None


class ApplicationView(msgspec.Struct, kw_only=True):
    """What the read models know about an application, and each command's story in log order."""

    application_id: str
    current_stage_id: str | None
    job_id: str | None
    candidate_id: str | None
    interview_plan_id: str | None
    status: str | None
    feedback: list[FeedbackView]
    schedules: list[ScheduleView]
    event_count: int
    commands: list[CommandStory]
    nudges: list[NudgeEvent] = msgspec.field(default_factory=list)


class EventView(msgspec.Struct, kw_only=True):
    """One stored event as `event_log` keeps it (docs/events.md describes each payload)."""

    stream_seq: int
    event_id: str
    event_type: str
    schema_version: int
    key: str
    source: str
    occurred_at: str
    recorded_at: str
    correlation_id: str | None
    causation_id: str | None
    payload: dict[str, Any]


class EventPage(msgspec.Struct, kw_only=True):
    """An entity's events after `after_seq`, in log order; pass `next_after_seq` for the next page."""

    key: str
    events: list[EventView]
    next_after_seq: int
    merged_from: list[str] = []
    """Applications merged into this one after a candidate merge: their events are in `events` too."""
    merged_into: str | None = None
    """The application that continues this one, if it was merged away."""


def application(view: dict[str, Any]) -> ApplicationView:
    return msgspec.convert(view, ApplicationView)


def event_page(key: str, events: list[dict[str, Any]], after_seq: int, *, merged_from: list[str] | None = None,
               merged_into: str | None = None) -> EventPage:
    return msgspec.convert({"key": key, "events": events,
                            "next_after_seq": events[-1]["stream_seq"] if events else after_seq,
                            "merged_from": merged_from or [], "merged_into": merged_into}, EventPage)

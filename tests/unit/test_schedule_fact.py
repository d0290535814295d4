"""The evaluator reads a schedule straight from the payload when every field has the exact type
the Ashby model wants, and through the model otherwise: both ways must give the same fact (or
both reject the schedule), whatever Ashby sends."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from contracts.envelope import Envelope
from evaluator import application_state as state_module
from evaluator.application_state import schedule_fact

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def body() -> dict:
    return {"id": "sch-1", "status": "WaitingOnFeedback", "applicationId": "app-1", "interviewStageId": "stg-2",
            "candidateId": "cand-1", "createdAt": "2026-11-01T09:00:00Z", "updatedAt": "2026-11-02T09:00:00Z",
            "interviewEvents": [
                {"id": "iev-2", "interviewId": "int-2", "interviewScheduleId": "sch-1",
                 "interviewerUserIds": ["usr-3"], "interviewers": [], "startTime": None, "endTime": None,
                 "feedbackLink": "https://x", "hasSubmittedFeedback": False},
                {"id": "iev-1", "interviewId": "int-1", "interviewerUserIds": ["usr-1", "usr-2"],
                 "interviewers": [{"id": "usr-2", "email": "b@example.com", "firstName": "B",
                                   "isFeedbackRequired": True},
                                  {"id": "usr-1", "isFeedbackRequired": False, "trainingRole": "Shadow"},
                                  {"id": "usr-2"}]}]}


def changed(path: tuple, value) -> dict:
    b = copy.deepcopy(body())
    target = b
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return b


VARIANTS = {
    "as Ashby sends it": body(),
    "no events": changed(("interviewEvents",), KeyError),
    "events null": changed(("interviewEvents",), None),
    "an event that is not an object": changed(("interviewEvents", 0), "iev-2"),
    "empty status": changed(("status",), ""),
    "numeric id": changed(("id",), 7),
    "no application": changed(("applicationId",), KeyError),
    "field by its python name": changed(("created_at",), "2026-10-01T09:00:00Z"),
    "event field by its python name": changed(("interviewEvents", 1, "interviewer_user_ids"), ["usr-9"]),
    "required flag as text": changed(("interviewEvents", 1, "interviewers", 1, "isFeedbackRequired"), "false"),
    "required flag null": changed(("interviewEvents", 1, "interviewers", 1, "isFeedbackRequired"), None),
    "interviewer without id": changed(("interviewEvents", 1, "interviewers", 0, "id"), KeyError),
    "numeric user id": changed(("interviewEvents", 0, "interviewerUserIds", 0), 3),
    "interviewers null": changed(("interviewEvents", 0, "interviewers"), None),
    "feedback flag as text": changed(("interviewEvents", 0, "hasSubmittedFeedback"), "yes"),
    "numeric email": changed(("interviewEvents", 1, "interviewers", 0, "email"), 5),
    "unknown fields": {**body(), "somethingNew": {"x": 1}},
    "duplicate event ids": changed(("interviewEvents", 0, "id"), "iev-1"),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_fast_reading_of_a_schedule_is_the_models(name, monkeypatch):
    raw = VARIANTS[name]
    event = Envelope(event_id="ev-1", event_type="InterviewScheduleUpdated", key="app-1", occurred_at=T0,
                     recorded_at=T0, source="ashby", payload={"schedule": raw})
    fast = schedule_fact(copy.deepcopy(raw), event)
    monkeypatch.setattr(state_module, "_plain_schedule", lambda raw: None)
    model = schedule_fact(copy.deepcopy(raw), event)
    assert fast == model
    if model is not None:
        assert fast[1].interview_of_event == model[1].interview_of_event


def test_what_the_fact_holds():
    event = Envelope(event_id="ev-1", event_type="InterviewScheduleUpdated", key="app-1", occurred_at=T0,
                     recorded_at=T0, source="ashby", payload={})
    assert state_module._plain_schedule(body()) is not None  # the fast way, not the model
    app, fact = schedule_fact(body(), event)
    assert app == "app-1" and fact.id == "sch-1" and fact.stage_id == "stg-2" and not fact.cancelled
    # by event id; the detailed list decides who is required, the bare id list only without it
    assert [(e.id, e.interview_id, required) for e, required in fact.events] == [
        ("iev-1", "int-1", ("usr-2",)), ("iev-2", "int-2", ("usr-3",))]
    assert fact.stamp == (datetime(2026, 11, 2, 9, 0, tzinfo=UTC), "ev-1")

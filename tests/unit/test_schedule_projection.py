"""Pure schedule projection: rows from events, newest updatedAt per schedule wins within a batch."""

from datetime import UTC, datetime

from contracts.consumers import Delivered
from contracts.envelope import Envelope
from projectors.schedules import newest_per_schedule, to_projection
from support import schedule_payload


def delivered(seq: int, status: str, updated_at: str, app: str = "a1") -> Delivered:
    raw = schedule_payload(app, status=status, updated_at=updated_at)["data"]["interviewSchedule"]
    env = Envelope(event_id=f"e{seq}", event_type="InterviewScheduleUpdated", key=app,
                   occurred_at=datetime.now(UTC), recorded_at=datetime.now(UTC), source="ashby",
                   payload={"action": "interviewScheduleUpdate", "schedule": raw})
    return Delivered(env, seq, "ev.ashby.InterviewScheduleUpdated." + app)


def test_rows_carry_events_and_who_must_give_feedback():
    p = to_projection(delivered(1, "Scheduled", "2026-11-01T10:00:00Z"))
    assert p.schedule.status == "Scheduled" and p.schedule.application_id == "a1"
    assert [e.interview_id for e in p.events] == ["interview-1"]
    assert sorted((i.user_id, i.is_feedback_required) for i in p.interviewers) == [("user-1", True), ("user-2", True)]


def test_the_newest_update_wins_regardless_of_arrival_order():
    late_old = delivered(2, "Scheduled", "2026-11-01T09:00:00Z")
    new = delivered(1, "Complete", "2026-11-01T12:00:00Z")
    [winner] = newest_per_schedule([to_projection(new), to_projection(late_old)])
    assert winner.schedule.status == "Complete"


def test_equal_timestamps_fall_back_to_stream_order():
    a = delivered(1, "Scheduled", "2026-11-01T09:00:00Z")
    b = delivered(2, "Complete", "2026-11-01T09:00:00Z")
    assert newest_per_schedule([to_projection(b), to_projection(a)])[0].schedule.status == "Complete"


def test_other_event_types_project_nothing():
    d = delivered(1, "Scheduled", "2026-11-01T09:00:00Z")
    other = Delivered(d.envelope.model_copy(update={"event_type": "FeedbackSubmitted"}), 1, "x")
    assert to_projection(other) is None


def test_the_fast_reading_agrees_with_the_ashby_model_or_defers_to_it():
    from projectors.schedules import _plain, _validated

    raw = schedule_payload("a9", status="WaitingOnFeedback")["data"]["interviewSchedule"]
    assert _plain(raw) == _validated(raw)
    event = raw["interviewEvents"][0]
    legacy = {**raw, "interviewEvents": [{**event, "interviewers": [], "interviewerUserIds": ["u1", "u2"]}]}
    assert _plain(legacy) == _validated(legacy)
    assert [p for *_, p in _plain(legacy)[-1]] == [[("u1", True), ("u2", True)]]
    optional = {**raw, "interviewEvents": [{**event, "interviewers": [
        {"id": "u3", "isFeedbackRequired": False}, {"id": "u4"}]}]}
    assert _plain(optional) == _validated(optional)
    assert _plain(optional)[-1][0][-1] == [("u3", False), ("u4", True)]
    # anything the model would coerce or reject is left to the model
    for odd in ({**raw, "status": ""}, {**raw, "candidateId": 7},
                {**raw, "interviewEvents": [{**event, "interviewers": [{"id": "u5", "isFeedbackRequired": "no"}]}]},
                {**raw, "interviewEvents": [{**event, "interviewerUserIds": [1]}]}):
        assert _plain(odd) is None
    coerced = {**raw, "interviewEvents": [{**event, "interviewers": [{"id": "u5", "isFeedbackRequired": "no"}]}]}
    assert _validated(coerced)[-1][0][-1] == [("u5", False)]


def test_only_what_differs_from_the_stored_rows_is_written():
    from projectors.schedules import children_change

    p = to_projection(delivered(1, "Scheduled", "2026-11-01T10:00:00Z"))  # event ev-sched-a1, user-1 and user-2
    [event] = p.events
    stored_events = [tuple(event), ("ev-old", event.schedule_id, "a1", "interview-0", None, None)]
    stored_people = [tuple(i) for i in p.interviewers][:1] + [("ev-old", "user-9", event.schedule_id, True)]
    change = children_change([p], stored_events, stored_people)
    assert change.gone_events == ["ev-old"] and change.gone_people == [("ev-old", "user-9")]
    assert change.events == []  # the listed event is stored as it is
    assert [(i.user_id, i.is_feedback_required) for i in change.people] == [("user-2", True)]
    flipped = [(*tuple(i)[:3], False) for i in p.interviewers]
    assert {i.user_id for i in children_change([p], [tuple(event)], flipped).people} == {"user-1", "user-2"}
    moved = [(event.interview_event_id, "another-schedule", *tuple(event)[2:])]
    assert children_change([p], moved, []).events == [event]

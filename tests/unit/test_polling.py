"""Pure poll-watch logic and the mapping of Ashby results to events with deterministic ids."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from contracts.envelope import Envelope
from ingest.ashby_events import application_envelope, feedback_envelope, metadata_envelope
from ingest.polling import (
    Decay,
    Watch,
    after_feedback_poll,
    after_snapshot,
    decidable_stages,
    feedback_check_due,
    merge_after_poll,
    next_poll,
    on_event,
    required_interviewers,
)
from support import schedule_payload

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def schedule_event(app: str, status: str, updated_at: str = "2026-11-01T10:00:00Z", stage: str = "stage-1",
                   interviewers: list[str] | None = None) -> Envelope:
    raw = schedule_payload(app, status=status, updated_at=updated_at, stage_id=stage,
                           interviewers=interviewers)["data"]["interviewSchedule"]
    return Envelope(event_id=f"{app}-{status}-{updated_at}", event_type="InterviewScheduleUpdated", key=app,
                    occurred_at=NOW, recorded_at=NOW, source="ashby", payload={"action": "x", "schedule": raw})


DECAY = Decay.of_seconds(15, 300, DAY.total_seconds())
RULED = frozenset({"stage-1"})


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def due_watch(app: str = "a") -> Watch:
    w = after_snapshot(on_event(None, schedule_event(app, "Scheduled"), NOW, DECAY, RULED), "stage-1")
    return on_event(w, schedule_event(app, "WaitingOnFeedback", "2026-11-01T12:00:00Z"), NOW, DECAY, RULED)


def test_a_new_application_is_snapshotted_once_and_feedback_is_not_yet_due():
    w = on_event(None, schedule_event("a", "Scheduled"), NOW, DECAY, RULED)
    assert w.snapshot_needed and not w.feedback_due and w.next_poll_at == NOW
    w = after_snapshot(w, "stage-1")
    assert next_poll(w, NOW) is None
    again = on_event(w, schedule_event("a", "Scheduled", "2026-11-01T11:00:00Z"), NOW, DECAY, RULED)
    assert not again.snapshot_needed, "same stage: no second snapshot"


def test_an_interview_that_ended_is_checked_soon_then_at_doubling_gaps_up_to_the_ceiling():
    w = due_watch()
    assert w.feedback_due and w.next_poll_at == NOW + seconds(15) and w.poll_until == NOW + DAY
    assert not feedback_check_due(w, NOW) and feedback_check_due(w, NOW + seconds(15))
    assert required_interviewers(w) == {"user-1", "user-2"}
    at, gaps = NOW + seconds(15), []
    for _ in range(8):
        w = after_feedback_poll(w, {"user-1"}, at, DECAY)
        gaps.append((w.feedback_at - at).total_seconds())
        at = w.feedback_at
    assert gaps == [30, 60, 120, 240, 300, 300, 300, 300]
    assert next_poll(w, at) == w.feedback_at


def test_checks_stop_once_every_required_interviewer_submitted():
    w = after_feedback_poll(due_watch(), {"user-1", "user-2"}, NOW + seconds(15), DECAY)
    assert not w.feedback_due and next_poll(w, NOW) is None


def test_checks_stop_when_the_stage_moves():
    w = after_snapshot(due_watch(), "stage-2")  # a recruiter moved the candidate on
    assert not w.feedback_due and next_poll(w, NOW) is None
    w = after_feedback_poll(replace(due_watch(), snapshot_stage_id="stage-2"), set(), NOW, DECAY)
    assert not w.feedback_due


def test_checks_stop_at_the_end_of_the_window_even_if_feedback_is_missing():
    w = on_event(None, schedule_event("a", "Complete"), NOW, DECAY, RULED)
    assert after_feedback_poll(w, set(), NOW + DAY, DECAY).feedback_due is False


def test_nothing_is_checked_for_a_stage_no_active_rule_decides():
    w = on_event(None, schedule_event("a", "WaitingOnFeedback"), NOW, DECAY, frozenset({"other-stage"}))
    assert not w.feedback_due and w.snapshot_needed  # the snapshot still keeps the read model right
    w = after_snapshot(w, "stage-1")
    assert next_poll(w, NOW) is None
    assert on_event(None, schedule_event("b", "WaitingOnFeedback"), NOW, DECAY, frozenset()).feedback_due is False


def test_decidable_stages_are_the_stages_of_the_rule_set():
    doc = {"rules": [{"id": "r1", "stage_id": "s1"}, {"id": "r2", "stage_id": "s2"}, {"id": "bad"}]}
    assert decidable_stages(doc) == {"s1", "s2"} and decidable_stages({}) == frozenset()


def test_an_older_update_arriving_late_does_not_reopen_a_schedule():
    w = on_event(None, schedule_event("a", "Complete", "2026-11-01T12:00:00Z"), NOW, DECAY, RULED)
    w = on_event(w, schedule_event("a", "Scheduled", "2026-11-01T09:00:00Z"), NOW, DECAY, RULED)
    assert list(w.schedules.values())[0]["status"] == "Complete"


def test_cancelled_schedules_and_other_stages_require_nobody():
    w = on_event(None, schedule_event("a", "Cancelled", interviewers=["u9"]), NOW, DECAY, RULED)
    assert required_interviewers(after_snapshot(w, "stage-1")) == set()
    w = on_event(None, schedule_event("b", "Complete", stage="stage-0", interviewers=["u8"]), NOW, DECAY, RULED)
    assert required_interviewers(after_snapshot(w, "stage-1")) == set()


def test_a_watch_changed_during_a_poll_keeps_the_new_facts():
    loaded = after_snapshot(on_event(None, schedule_event("a", "Scheduled"), NOW, DECAY, RULED), "stage-1")
    loaded = replace(loaded, snapshot_needed=True)
    polled = after_snapshot(loaded, "stage-1")
    current = on_event(loaded, schedule_event("a", "WaitingOnFeedback", "2026-11-01T12:00:00Z"), NOW, DECAY, RULED)
    merged = merge_after_poll(loaded, polled, current, NOW)
    assert merged.feedback_due and merged.snapshot_stage_id == "stage-1" and merged.next_poll_at == NOW
    unchanged = merge_after_poll(loaded, polled, loaded, NOW)
    assert unchanged.snapshot_needed is False and unchanged.next_poll_at is None


def test_watches_survive_a_round_trip_through_json():
    w = due_watch()
    assert Watch.from_json("a", w.to_json(), w.next_poll_at) == w


def test_feedback_ids_follow_the_submission_and_its_edit_time():
    item = {"id": "fb1", "applicationId": "a", "submittedAt": "2026-11-02T10:00:00Z",
            "submittedByUser": {"id": "u1"}, "submittedValues": {"score": {"score": 4}}, "interviewId": "i1",
            "formDefinition": {"id": "form-1"}}
    first = feedback_envelope(item, NOW)
    assert first.event_id == feedback_envelope(item, NOW + DAY).event_id
    assert first.payload["submitted_by_user_id"] == "u1" and first.payload["form_definition_id"] == "form-1"
    edited = feedback_envelope({**item, "submittedAt": "2026-11-03T10:00:00Z"}, NOW)
    assert edited.event_id != first.event_id


def test_snapshots_and_metadata_get_new_ids_only_when_their_content_changes():
    info = {"id": "a", "status": "Active", "currentInterviewStage": {"id": "s1", "interviewPlanId": "p1"},
            "job": {"id": "j1"}, "hiringTeam": [{"userId": "u1", "role": "Recruiter", "email": "x@y.z"}]}
    snap = application_envelope(info, NOW)
    assert snap.payload["interview_plan_id"] == "p1" and snap.payload["hiring_team"] == [
        {"userId": "u1", "role": "Recruiter"}]
    assert snap.event_id == application_envelope(info, NOW + DAY).event_id
    moved = {**info, "currentInterviewStage": {"id": "s2", "interviewPlanId": "p1"}}
    assert application_envelope(moved, NOW).event_id != snap.event_id
    job = metadata_envelope("job", {"id": "j1", "title": "Engineer"}, NOW)
    assert job.event_type == "JobSynced"
    assert job.event_id == metadata_envelope("job", {"title": "Engineer", "id": "j1"}, NOW).event_id
    assert job.event_id != metadata_envelope("job", {"id": "j1", "title": "Staff"}, NOW).event_id

"""Pure poll-watch logic and the mapping of Ashby results to events with deterministic ids."""

from datetime import UTC, datetime, timedelta

from contracts.envelope import Envelope
from ingest.ashby_events import application_envelope, feedback_envelope, metadata_envelope
from ingest.polling import (
    Watch,
    after_feedback_poll,
    after_snapshot,
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


def test_a_new_application_is_snapshotted_once_and_feedback_is_not_yet_due():
    w = on_event(None, schedule_event("a", "Scheduled"), NOW, DAY)
    assert w.snapshot_needed and not w.feedback_due and w.next_poll_at == NOW
    w = after_snapshot(w, "stage-1")
    assert next_poll(w, NOW, timedelta(seconds=3)) is None
    again = on_event(w, schedule_event("a", "Scheduled", "2026-11-01T11:00:00Z"), NOW, DAY)
    assert not again.snapshot_needed, "same stage: no second snapshot"


def test_waiting_on_feedback_polls_now_then_at_the_interval_until_everyone_submitted():
    w = after_snapshot(on_event(None, schedule_event("a", "Scheduled"), NOW, DAY), "stage-1")
    w = on_event(w, schedule_event("a", "WaitingOnFeedback", "2026-11-01T12:00:00Z"), NOW, DAY)
    assert w.feedback_due and w.next_poll_at == NOW and w.poll_until == NOW + DAY
    assert required_interviewers(w) == {"user-1", "user-2"}
    w = after_feedback_poll(w, {"user-1"}, NOW)
    assert w.feedback_due and next_poll(w, NOW, timedelta(seconds=3)) == NOW + timedelta(seconds=3)
    w = after_feedback_poll(w, {"user-1", "user-2"}, NOW)
    assert not w.feedback_due


def test_polling_stops_at_the_timeout_even_if_feedback_is_missing():
    w = on_event(None, schedule_event("a", "Complete"), NOW, DAY)
    assert after_feedback_poll(w, set(), NOW + DAY).feedback_due is False


def test_an_older_update_arriving_late_does_not_reopen_a_schedule():
    w = on_event(None, schedule_event("a", "Complete", "2026-11-01T12:00:00Z"), NOW, DAY)
    w = on_event(w, schedule_event("a", "Scheduled", "2026-11-01T09:00:00Z"), NOW, DAY)
    assert list(w.schedules.values())[0]["status"] == "Complete"


def test_cancelled_schedules_and_other_stages_require_nobody():
    w = on_event(None, schedule_event("a", "Cancelled", interviewers=["u9"]), NOW, DAY)
    assert required_interviewers(after_snapshot(w, "stage-1")) == set()
    w = on_event(None, schedule_event("b", "Complete", stage="stage-0", interviewers=["u8"]), NOW, DAY)
    assert required_interviewers(after_snapshot(w, "stage-1")) == set()


def test_a_watch_changed_during_a_poll_keeps_the_new_facts():
    loaded = on_event(None, schedule_event("a", "Scheduled"), NOW, DAY)
    polled = after_snapshot(loaded, "stage-1")
    current = on_event(loaded, schedule_event("a", "WaitingOnFeedback", "2026-11-01T12:00:00Z"), NOW, DAY)
    merged = merge_after_poll(loaded, polled, current, NOW, timedelta(seconds=3))
    assert merged.feedback_due and merged.snapshot_stage_id == "stage-1" and merged.next_poll_at == NOW
    unchanged = merge_after_poll(loaded, polled, loaded, NOW, timedelta(seconds=3))
    assert unchanged.snapshot_needed is False and unchanged.next_poll_at is None


def test_watches_survive_a_round_trip_through_json():
    w = on_event(None, schedule_event("a", "Complete"), NOW, DAY)
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

"""The pure side of feedback nudges: who is due now, once, only in business hours, and the messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from evaluator.application_state import AppState, InterviewSlot, ScheduleFact
from evaluator.business_hours import BusinessCalendar
from evaluator.nudges import Missing, missing_feedback, nudge_id, plan
from evaluator.stage_assessment import WaitReason
from notifier.nudge_message import build_escalation, build_nudge, feedback_url
from runtime.console.story import summarise

CAL = BusinessCalendar.parse("09:00-18:00", "UTC", "Mon-Fri")
MONDAY = datetime(2026, 12, 14, 10, 0, tzinfo=UTC)


def state(end: str | None = "2026-12-11T16:00:00Z") -> AppState:
    slot = InterviewSlot("iev-1", "int-1", ("u1", "u2"), end, "https://app.ashbyhq.com/f/1")
    fact = ScheduleFact("s-1", "stg", "WaitingOnFeedback", (MONDAY, 1, ""), MONDAY, ((slot, ("u1", "u2")),), {})
    return AppState("app-1", schedules={"s-1": fact})


def waits(*users: str) -> list[WaitReason]:
    return [WaitReason("feedback", f"feedback from {u}", "int-1", "iev-1", u, "s-1") for u in users]


def test_due_times_count_weekdays_and_the_escalation_counts_from_the_due_time():
    [m] = missing_feedback(state(), waits("u1"), timedelta(hours=24), timedelta(hours=4), CAL)
    assert m.due_at == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)  # Friday 16:00 + 24h of weekdays
    assert m.escalate_at == datetime(2026, 12, 15, 9, 0, tzinfo=UTC)  # Monday 20:00 is closed
    assert m.feedback_link == "https://app.ashbyhq.com/f/1"


def test_any_other_reason_to_wait_nudges_nobody():
    other = [*waits("u1"), WaitReason("interview_not_scheduled", "x", "int-2")]
    assert missing_feedback(state(), other, timedelta(hours=1), None, CAL) == ()
    assert missing_feedback(state(end=None), waits("u1"), timedelta(hours=1), None, CAL) == ()


def test_a_nudge_is_due_once_and_the_next_time_is_the_escalation():
    missing = missing_feedback(state(), waits("u1", "u2"), timedelta(hours=24), timedelta(hours=4), CAL)
    at = datetime(2026, 12, 14, 16, 0, 1, tzinfo=UTC)
    first = plan("app-1", "stg", missing, set(), at, CAL)
    assert [m.interviewer_id for m in first.nudges] == ["u1", "u2"] and first.escalations == ()
    assert first.next_at == datetime(2026, 12, 15, 9, 0, tzinfo=UTC)
    done = {nudge_id("nudge", "app-1", "stg", m) for m in first.nudges}
    again = plan("app-1", "stg", missing, done, at, CAL)
    assert again.nudges == () and again.next_at == first.next_at


def test_nothing_is_sent_while_closed_even_when_overdue():
    missing = missing_feedback(state(), waits("u1"), timedelta(hours=24), None, CAL)
    night = datetime(2026, 12, 14, 22, 0, tzinfo=UTC)
    closed = plan("app-1", "stg", missing, set(), night, CAL)
    assert closed.nudges == () and closed.next_at == datetime(2026, 12, 15, 9, 0, tzinfo=UTC)


def test_a_moved_interview_is_a_new_due_time_and_a_new_nudge():
    a = Missing("u1", "iev-1", "int-1", None, MONDAY, None)
    b = Missing("u1", "iev-1", "int-1", None, MONDAY + timedelta(days=1), None)
    assert nudge_id("nudge", "app", "stg", a) != nudge_id("nudge", "app", "stg", b)
    assert nudge_id("nudge", "app", "stg", a) != nudge_id("escalation", "app", "stg", a)


def test_the_nudge_names_the_candidate_and_links_the_form_and_nothing_more():
    text, blocks = build_nudge(candidate_name="Sam Strong sam@example.com", interview_title="System design",
                               due_at="2026-12-14T16:00:00+00:00", link="https://app.ashbyhq.com/f/1",
                               interviewer_slack_id="U1")
    body = orjson.dumps(blocks).decode()
    assert "Sam Strong" in text and "sam@example.com" not in body + text
    assert "<https://app.ashbyhq.com/f/1|Open the feedback form in Ashby>" in body and "<@U1>" in body
    assert "<!date^" in body


def test_the_escalation_names_interviewers_by_name_and_never_by_email():
    late = [{"interviewer_id": "u1", "interview_event_id": "iev-1", "interview_id": "int-1",
             "due_at": "2026-12-14T16:00:00+00:00"},
            {"interviewer_id": "u2", "interview_event_id": "iev-1", "interview_id": "int-1",
             "due_at": "2026-12-14T16:00:00+00:00"}]
    text, blocks = build_escalation(candidate_name="Sam Strong", job_title="Engineer", stage_title="Onsite",
                                    late=late, names={"u1": "Ivan Interviewer", "u2": "iris@example.com"},
                                    interview_titles={"int-1": "System design"}, url="https://app.ashbyhq.com/a")
    body = orjson.dumps(blocks).decode()
    assert "Ivan Interviewer" in body and "System design" in body and "2 interviewer(s)" in text
    assert "iris@example.com" not in body


def test_a_feedback_link_that_is_not_plain_https_is_replaced_by_the_application_link():
    assert feedback_url("javascript:alert(1)", "cand-1", "app-1").startswith("https://app.ashbyhq.com/candidates/")
    assert feedback_url("https://x|evil>", None, "app-1") == "https://app.ashbyhq.com/applications/app-1"


def test_the_story_shows_nudges_by_ids():
    assert "interviewer u1" in summarise("FeedbackNudgeSent", {"interviewer_id": "u1", "interview_id": "int-1",
                                                                 "due_at": "2026-12-14T16:00:00+00:00"})
    assert "Recruiter" in summarise("FeedbackEscalated", {"recipients": ["Recruiter"],
                                                          "late": [{"interviewer_id": "u1"}]})

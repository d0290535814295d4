"""The evaluator's pure core: value coercion, folding facts, and what `decide` makes of them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.envelope import Envelope
from contracts.ids import command_id, derive_id
from evaluator.pure_core import (
    AppState,
    Decision,
    NoRule,
    NotApplicable,
    Wait,
    World,
    command_for,
    decide,
    decision_made,
    evolve,
    fold,
)
from evaluator.rules import versioned
from evaluator.value_comparison import aggregate, check

APP = "app-1"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)


def at(minutes: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes)


def env(event_type: str, payload: dict, *, when: datetime = T0, source: str = "ashby") -> Envelope:
    """Same content, same id: as the real ids are derived from the facts."""
    return Envelope(event_id=derive_id(event_type, json.dumps(payload, sort_keys=True)), event_type=event_type,
                    key=APP, occurred_at=when, recorded_at=when, source=source, payload=payload)


def snapshot(stage: str = "stg-2", *, status: str = "Active", job: str = "job-1", fetched: datetime = T0) -> Envelope:
    return env("ApplicationSnapshotted", {"application_id": APP, "job_id": job, "interview_plan_id": "plan-1",
                                          "current_stage_id": stage, "status": status,
                                          "fetched_at": fetched.isoformat()}, when=fetched)


def schedule(sid: str = "sch-1", *, stage: str = "stg-2", status: str = "WaitingOnFeedback",
             updated: datetime = T0, events: tuple = (("iev-1", "int-1", ("usr-1", "usr-2")),),
             optional: tuple = ()) -> Envelope:
    body = {"id": sid, "status": status, "applicationId": APP, "interviewStageId": stage,
            "createdAt": T0.isoformat(), "updatedAt": updated.isoformat(),
            "interviewEvents": [{"id": eid, "interviewId": iid, "interviewerUserIds": list(users),
                                 "interviewers": [{"id": u, "isFeedbackRequired": u not in optional} for u in users]}
                                for eid, iid, users in events]}
    return env("InterviewScheduleUpdated", {"action": "interviewScheduleUpdate", "schedule": body}, when=updated)


def feedback(fid: str, user: str, values: dict, *, interview: str = "int-1", event: str | None = "iev-1",
             submitted: datetime = T0) -> Envelope:
    return env("FeedbackSubmitted", {"feedback_id": fid, "application_id": APP, "submitted_at": submitted.isoformat(),
                                     "submitted_by_user_id": user, "interview_id": interview,
                                     "interview_event_id": event, "submitted_values": values}, when=submitted)


def plan(*stages: tuple) -> Envelope:
    stages = stages or (("stg-1", 1, "Active"), ("stg-2", 2, "Active"), ("stg-arch", 3, "Archived"),
                        ("stg-3", 4, "Active"))
    return env("InterviewPlanSynced", {"record_id": "plan-1", "data": {"id": "plan-1", "stages": [
        {"id": s, "orderInInterviewPlan": o, "type": t, "interviewPlanId": "plan-1"} for s, o, t in stages]}})


def requirement(**over) -> dict:
    return {"interview_id": "int-1", "field": "overall", "operator": ">=", "threshold": 3, **over}


def rule_set(*requirements: dict, version: int = 3, dry_run: bool = False, **over):
    rule = {"id": "r-plan", "interview_plan_id": "plan-1", "stage_id": "stg-2",
            "requirements": list(requirements) or [requirement()],
            "on_fail": {"action": "propose_rejection", "archive_reason_id": "ar-1"}, **over}
    return versioned({"name": "test", "dry_run": dry_run, "rules": [rule]}, version)


def world(*events: Envelope) -> World:
    w = World()
    for e in events:
        w = fold(w, e)
    return w


def evaluate(*events: Envelope, rules=None, now: datetime = LATER):
    w = world(*events)
    return decide(w.app(APP), w.catalog, rules if rules is not None else rule_set(), now)


BASE = (plan(), snapshot(), schedule())
BOTH_PASS = (feedback("fb-1", "usr-1", {"overall": 4}), feedback("fb-2", "usr-2", {"overall": {"score": 3}}))


@pytest.mark.parametrize(("raw", "operator", "threshold", "passed"), [
    (4, ">=", 3, True), (3, ">=", 3, True), (2, ">=", 3, False), (4, ">", 3, True), (3, ">", 3, False),
    (2, "<=", 2, True), (3, "<=", 2, False), (1, "<", 2, True), (2, "<", 2, False),
    (3, "==", 3, True), (3.0, "==", 3, True), (2, "!=", 3, True), (3, "!=", 3, False),
    ({"score": 3}, ">=", 3, True), ({"score": 2}, ">=", 3, False), ({"score": "4"}, ">", 3, True),
    ("3", ">=", 3, True), (" 3.5 ", ">", 3, True), ("2", ">=", 3, False),
    (True, "==", True, True), ("true", "==", True, True), ("TRUE", "==", True, True), ("false", "==", True, False),
    (True, "==", "true", True), ("true", "==", "true", True), (False, "!=", True, True),
    ("yes", "==", "Yes", True), ({"value": "strong_yes", "label": "Strong yes"}, "==", "strong_yes", True),
    ("yes", "in", ["yes", "strong_yes"], True), ("no", "in", ["yes", "strong_yes"], False),
    ({"value": "yes"}, "in", ["yes"], True), (3, "in", [3, 4], True), ("4", "in", [3, 4], True),
    (["a", "b"], "in", ["a", "b", "c"], True), (["a", "x"], "in", ["a", "b"], False),
    (["a"], "==", "a", True), (["a", "b"], "==", ["b", "a"], True), (["a", "b"], "==", "a", False),
    ("abc", ">=", 3, False), (True, ">=", 1, False), ({"other": 1}, ">=", 3, False), ([1, 2], ">=", 1, False),
    ("maybe", "==", True, False), ("abc", "!=", 3, False), (object(), "==", 3, False),
])
def test_every_operator_reads_ashby_values_as_the_threshold_expects(raw, operator, threshold, passed):
    result = check(raw, operator, threshold)
    assert result.passed is passed
    assert passed or result.reason


def test_an_unreadable_value_fails_with_a_reason_instead_of_raising():
    result = check({"unexpected": [1]}, ">=", 3)
    assert not result.passed and "cannot read" in result.reason


@pytest.mark.parametrize(("values", "how", "passed"), [
    ([4, 3], "all", True), ([4, 2], "all", False), ([4, 2], "any", True), ([2, 1], "any", False),
    ([4, 3], "average", True), ([4, 2], "average", True), ([3, 2], "average", False), (["4", "x"], "average", False),
])
def test_aggregates_combine_several_interviewers_values(values, how, passed):
    assert aggregate(values, ">=", 3, how).passed is passed


def test_all_interviewers_passing_advances_to_the_next_stage_skipping_archived_ones():
    result = evaluate(*BASE, *BOTH_PASS)
    assert isinstance(result, Decision)
    assert (result.outcome, result.target_stage_id, result.stage_id, result.rule_set_version) == (
        "advance", "stg-3", "stg-2", 3)
    req = result.explanation["requirements"][0]
    assert req["values"] == [4, {"score": 3}] and req["feedback_ids"] == ["fb-1", "fb-2"] and req["passed"]
    assert result.explanation["rule_id"] == "r-plan" and result.explanation["rule_set_version"] == 3
    json.dumps(result.explanation)


def test_an_explicit_target_stage_wins_over_the_next_one():
    result = evaluate(*BASE, *BOTH_PASS, rules=rule_set(on_pass={"target_stage_id": "stg-9"}))
    assert isinstance(result, Decision) and result.target_stage_id == "stg-9"


def test_a_panelist_still_to_submit_means_waiting_not_failing():
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 1}))
    assert isinstance(result, Wait)
    assert [(r.kind, r.interviewer_id) for r in result.reasons] == [("feedback", "usr-2")]
    assert result.until == T0 + timedelta(days=7)


def test_a_failing_score_proposes_rejection_with_the_rules_archive_reason():
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 4}), feedback("fb-2", "usr-2", {"overall": "2"}))
    assert isinstance(result, Decision)
    assert (result.outcome, result.archive_reason_id) == ("propose_rejection", "ar-1")
    cmd = command_for(result, APP, job_id="job-1")
    assert cmd.command_type == "ProposeRejection"
    assert cmd.command_id == command_id(3, APP, "stg-2", "propose_rejection")
    assert cmd.payload["job_id"] == "job-1" and cmd.payload["explanation"]["requirements"][0]["passed"] is False


def test_automatic_archive_only_happens_when_the_rule_opts_in():
    rules = rule_set(on_fail={"action": "archive", "auto_archive": True, "archive_reason_id": "ar-1",
                              "archive_email_template_id": "tmpl-1"})
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 1}), feedback("fb-2", "usr-2", {"overall": 1}),
                      rules=rules)
    assert isinstance(result, Decision) and result.outcome == "archive"
    cmd = command_for(result, APP)
    assert cmd.command_type == "ArchiveApplication" and cmd.payload["archive_email_template_id"] == "tmpl-1"


def test_a_required_interview_never_scheduled_is_waited_for():
    rules = rule_set(requirement(), requirement(interview_id="int-9"))
    result = evaluate(*BASE, *BOTH_PASS, rules=rules)
    assert isinstance(result, Wait)
    assert [(r.kind, r.interview_id) for r in result.reasons] == [("interview_not_scheduled", "int-9")]


def test_a_missing_field_is_waited_for_and_named():
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 4}), feedback("fb-2", "usr-2", {"notes": "hm"}))
    assert isinstance(result, Wait)
    assert [(r.kind, r.feedback_id, r.field) for r in result.reasons] == [("missing_field", "fb-2", "overall")]


def test_an_optional_interview_without_feedback_is_skipped():
    rules = rule_set(requirement(), requirement(interview_id="int-9", required=False))
    result = evaluate(*BASE, *BOTH_PASS, rules=rules)
    assert isinstance(result, Decision) and result.outcome == "advance"
    assert result.explanation["requirements"][1]["status"] == "skipped"


def test_edited_feedback_counts_in_its_latest_version_whatever_the_arrival_order():
    old = feedback("fb-2", "usr-2", {"overall": 1}, submitted=at(10))
    new = feedback("fb-2", "usr-2", {"overall": 4}, submitted=at(20))
    for order in ((old, new), (new, old)):
        result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 4}), *order)
        assert isinstance(result, Decision) and result.outcome == "advance"


def test_a_removed_interviewer_is_no_longer_waited_for_even_if_the_old_schedule_arrives_late():
    removed = schedule(updated=at(5), events=(("iev-1", "int-1", ("usr-1",)),))
    result = evaluate(plan(), snapshot(), removed, schedule(), feedback("fb-1", "usr-1", {"overall": 4}))
    assert isinstance(result, Decision) and result.outcome == "advance"


def test_interviewers_whose_feedback_is_not_required_are_not_waited_for():
    result = evaluate(plan(), snapshot(), schedule(optional=("usr-2",)), feedback("fb-1", "usr-1", {"overall": 4}))
    assert isinstance(result, Decision) and result.outcome == "advance"


def test_every_schedule_of_the_stage_is_waited_for_and_judged():
    second = schedule("sch-2", events=(("iev-2", "int-1", ("usr-3",)),))
    waiting = evaluate(*BASE, second, *BOTH_PASS)
    assert isinstance(waiting, Wait) and [r.interviewer_id for r in waiting.reasons] == ["usr-3"]
    result = evaluate(*BASE, second, *BOTH_PASS, feedback("fb-3", "usr-3", {"overall": 2}, event="iev-2"))
    assert isinstance(result, Decision) and result.outcome == "propose_rejection"
    assert result.explanation["requirements"][0]["feedback_ids"] == ["fb-1", "fb-2", "fb-3"]


def test_a_cancelled_schedule_requires_no_feedback():
    cancelled = schedule("sch-2", status="Cancelled", events=(("iev-2", "int-1", ("usr-3",)),))
    result = evaluate(*BASE, cancelled, *BOTH_PASS)
    assert isinstance(result, Decision) and result.outcome == "advance"


def test_an_application_that_left_the_stage_gets_no_decision_for_it():
    moved = snapshot("stg-3", fetched=at(30))
    result = evaluate(*BASE, moved, *BOTH_PASS)
    assert isinstance(result, NoRule) and result.stage_id == "stg-3"


def test_an_archived_application_is_not_evaluated():
    result = evaluate(*BASE, snapshot(status="Archived", fetched=at(1)), *BOTH_PASS)
    assert isinstance(result, NotApplicable) and "Archived" in result.reason


def test_the_quiet_period_after_the_last_feedback_delays_the_decision_until_it_ends():
    late = feedback("fb-2", "usr-2", {"overall": 4}, submitted=at(60))
    early = evaluate(*BASE, BOTH_PASS[0], late, now=at(80))
    assert isinstance(early, Wait) and early.until == at(90) and early.reasons[0].kind == "quiet_period"
    assert isinstance(evaluate(*BASE, BOTH_PASS[0], late, now=at(90)), Decision)


def test_waiting_past_the_timeout_alerts_once_and_a_later_pass_still_advances():
    events = (*BASE, BOTH_PASS[0])
    result = evaluate(*events, now=T0 + timedelta(days=7))
    assert isinstance(result, Decision) and result.outcome == "timeout"
    assert result.explanation["waiting_for"][0]["interviewer_id"] == "usr-2"
    assert command_for(result, APP).command_type == "SendAlert"
    alerted = env("DecisionMade", decision_made(result, APP, decided_at=T0 + timedelta(days=7)), source="evaluator")
    again = evaluate(*events, alerted, now=T0 + timedelta(days=8))
    assert isinstance(again, Wait) and again.until is None
    done = evaluate(*events, alerted, BOTH_PASS[1], now=T0 + timedelta(days=9))
    assert isinstance(done, Decision) and done.outcome == "advance"


def test_a_rule_with_on_timeout_nothing_keeps_waiting_quietly():
    result = evaluate(*BASE, rules=rule_set(on_timeout="nothing"), now=T0 + timedelta(days=30))
    assert isinstance(result, Wait) and result.until is None


def test_a_job_rule_beats_the_plan_wide_rule_for_the_same_stage():
    base = {"interview_plan_id": "plan-1", "stage_id": "stg-2", "on_fail": {"action": "nothing"}}
    rules = versioned({"name": "t", "rules": [
        {**base, "id": "plan-wide", "requirements": [requirement(threshold=1)]},
        {**base, "id": "for-job-1", "job_id": "job-1", "requirements": [requirement(threshold=4)]}]}, 1)
    assert evaluate(*BASE, *BOTH_PASS, rules=rules).explanation["rule_id"] == "for-job-1"
    other_job = evaluate(plan(), snapshot(job="job-2"), schedule(), *BOTH_PASS, rules=rules)
    assert isinstance(other_job, Decision) and other_job.rule_id == "plan-wide"


def test_a_stage_is_decided_once_per_rule_set_version_and_later_feedback_changes_nothing():
    first = evaluate(*BASE, *BOTH_PASS)
    made = env("DecisionMade", decision_made(first, APP, decided_at=LATER), source="evaluator")
    edit = feedback("fb-1", "usr-1", {"overall": 1}, submitted=LATER)
    assert isinstance(evaluate(*BASE, *BOTH_PASS, made, edit), NotApplicable)
    again = evaluate(*BASE, *BOTH_PASS, made, edit, rules=rule_set(version=4), now=LATER + timedelta(hours=1))
    assert isinstance(again, Decision) and again.rule_set_version == 4


def test_a_carried_out_advance_moves_the_application_so_the_old_stage_is_not_judged_again():
    first = evaluate(*BASE, *BOTH_PASS)
    made = env("DecisionMade", decision_made(first, APP, decided_at=LATER), source="evaluator")
    done = env("CommandSucceeded", {"command_id": command_id(3, APP, "stg-2", "advance"),
                                    "command_type": "AdvanceApplication", "application_id": APP},
               when=LATER + timedelta(minutes=1), source="executor")
    w = world(*BASE, *BOTH_PASS, made, done, feedback("fb-9", "usr-1", {"overall": 1}, interview="int-5", event=None))
    assert w.app(APP).position().stage_id == "stg-3"
    assert isinstance(decide(w.app(APP), w.catalog, rule_set(version=4), LATER), NoRule)


@pytest.mark.parametrize(("rules", "mode", "dry_run"), [
    (rule_set(mode="shadow"), "shadow", False), (rule_set(dry_run=True), "live", True)])
def test_shadow_mode_and_dry_run_record_decisions_and_issue_no_command(rules, mode, dry_run):
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 1}), BOTH_PASS[1], rules=rules)
    assert isinstance(result, Decision) and (result.mode, result.dry_run) == (mode, dry_run)
    assert command_for(result, APP) is None
    assert decision_made(result, APP, decided_at=LATER)["command_id"] is None


def proposal_events(rules=None):
    fail = (feedback("fb-1", "usr-1", {"overall": 1}), BOTH_PASS[1])
    proposal = evaluate(*BASE, *fail, rules=rules)
    made = env("DecisionMade", decision_made(proposal, APP, decided_at=LATER), source="evaluator")
    return (*BASE, *fail, made), proposal


def click(proposal: Decision, choice: str, user: str = "U1", minute: int = 0) -> Envelope:
    return env("RecruiterDecided", {"proposal_command_id": command_id(proposal.rule_set_version, APP, "stg-2",
                                                                      "propose_rejection"),
                                    "application_id": APP, "choice": choice, "slack_user_id": user},
               when=LATER + timedelta(minutes=minute), source="slack")


def test_a_recruiters_archive_click_becomes_one_archive_decision_and_command():
    events, proposal = proposal_events()
    result = evaluate(*events, click(proposal, "archive"))
    assert isinstance(result, Decision) and (result.outcome, result.archive_reason_id) == ("archive", "ar-1")
    cmd = command_for(result, APP)
    assert cmd.command_type == "ArchiveApplication" and cmd.payload["decided_by"] == "recruiter:U1"
    archived = env("DecisionMade", decision_made(result, APP, decided_at=LATER), source="evaluator")
    assert isinstance(evaluate(*events, click(proposal, "archive"), archived, click(proposal, "archive", "U2", 5)),
                      NotApplicable)


def test_keep_then_archive_clicks_change_nothing_after_the_first():
    events, proposal = proposal_events()
    result = evaluate(*events, click(proposal, "keep"), click(proposal, "archive", "U2", 5))
    assert isinstance(result, NotApplicable)


def test_a_new_rule_set_does_not_propose_again_once_the_recruiter_kept_the_candidate():
    events, old = proposal_events(rule_set(version=3))
    assert isinstance(evaluate(*events, click(old, "keep"), rules=rule_set(version=4)), NotApplicable)


def test_a_click_on_a_superseded_proposal_changes_nothing():
    events, old = proposal_events(rule_set(version=3))
    lenient = rule_set(requirement(threshold=1), version=4)
    advance = evaluate(*events, rules=lenient)
    assert isinstance(advance, Decision) and advance.outcome == "advance"
    advanced = env("DecisionMade", decision_made(advance, APP, decided_at=LATER + timedelta(hours=1)),
                   source="evaluator")
    late_click = click(old, "archive", minute=90)
    assert isinstance(evaluate(*events, advanced, late_click, rules=lenient), NotApplicable)
    elsewhere = evaluate(*events, snapshot("stg-3", fetched=LATER + timedelta(minutes=30)), late_click)
    assert isinstance(elsewhere, NoRule)


@pytest.mark.parametrize(("events", "kind"), [
    ((schedule(),), Wait), ((snapshot(),), Wait), ((plan(), snapshot("stg-1")), NoRule)])
def test_without_enough_facts_nothing_is_decided(events, kind):
    assert isinstance(evaluate(*events), kind)


def test_no_active_rule_set_means_no_rule():
    w = world(*BASE, *BOTH_PASS)
    assert isinstance(decide(w.app(APP), w.catalog, None, LATER), NoRule)


def test_the_last_stage_has_nowhere_to_advance_and_an_unsynced_plan_is_waited_for():
    last = evaluate(plan(("stg-1", 1, "Active"), ("stg-2", 2, "Active")), *BASE[1:], *BOTH_PASS)
    assert isinstance(last, NotApplicable) and "last stage" in last.reason
    unsynced = evaluate(*BASE[1:], *BOTH_PASS)
    assert isinstance(unsynced, Wait) and unsynced.reasons[0].kind == "interview_plan"


def test_a_rule_that_does_nothing_on_failure_leaves_the_candidate_where_they_are():
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": 1}), BOTH_PASS[1],
                      rules=rule_set(on_fail={"action": "nothing"}))
    assert isinstance(result, NotApplicable) and result.explanation["passed"] is False


def test_an_unreadable_value_fails_the_requirement_with_a_reason():
    result = evaluate(*BASE, feedback("fb-1", "usr-1", {"overall": {"weird": True}}), BOTH_PASS[1])
    assert isinstance(result, Decision) and result.outcome == "propose_rejection"
    assert "cannot read" in result.explanation["requirements"][0]["checks"][0]["reason"]


def test_evolve_ignores_unknown_events_and_other_applications_facts():
    state = AppState(APP)
    assert evolve(state, env("SomethingNew", {"application_id": APP})) is state
    other = env("FeedbackSubmitted", {"feedback_id": "x", "application_id": "app-2", "submitted_values": {}})
    assert evolve(state, other) is state
    assert evolve(state, schedule().model_copy(update={"payload": {"schedule": {"id": "bad"}}})) is state


def test_a_naive_now_is_read_as_utc():
    assert isinstance(evaluate(*BASE, *BOTH_PASS, now=LATER.replace(tzinfo=None)), Decision)


def test_the_newest_plan_sync_decides_the_next_stage_whatever_the_arrival_order():
    old = plan(("stg-2", 1, "Active"), ("stg-3", 2, "Active"), ("stg-4", 3, "Active"))
    new = plan(("stg-2", 1, "Active"), ("stg-4", 2, "Active"), ("stg-3", 3, "Active"))
    new = new.model_copy(update={"occurred_at": at(5), "event_id": "plan-newer"})
    for order in ((old, new), (new, old)):
        result = evaluate(*order, snapshot(), schedule(), *BOTH_PASS)
        assert isinstance(result, Decision) and result.target_stage_id == "stg-4"


# --- the undo window and merged applications (issue 21) -----------------------------------------


def _window_events(archive: Decision, *, undone: bool) -> tuple[Envelope, ...]:
    cid = command_id(archive.rule_set_version, APP, "stg-2", "archive")
    scheduled = env("ArchiveScheduled", {"command_id": cid, "application_id": APP, "decision_id": "d",
                                         "stage_id": "stg-2", "decided_by": "rule:r", "delay_s": 300.0,
                                         "due_at": (LATER + timedelta(minutes=5)).isoformat()}, source="evaluator")
    settled = env("ArchiveUndone", {"command_id": cid, "application_id": APP, "undone_by": "U9",
                                    "undone_at": LATER.isoformat(), "due_at": LATER.isoformat()}, source="evaluator") \
        if undone else env("ArchiveReleased", {"command_id": cid, "application_id": APP, "due_at": LATER.isoformat(),
                                               "released_at": LATER.isoformat()}, source="evaluator")
    return scheduled, settled


def test_an_undone_automatic_archive_is_not_archived_again_by_a_new_rule_set():
    auto = rule_set(on_fail={"action": "archive", "auto_archive": True, "archive_reason_id": "ar-1"})
    fail = (feedback("fb-1", "usr-1", {"overall": 1}), BOTH_PASS[1])
    archive = evaluate(*BASE, *fail, rules=auto)
    assert isinstance(archive, Decision) and archive.outcome == "archive"
    made = env("DecisionMade", decision_made(archive, APP, decided_at=LATER), source="evaluator")
    scheduled, undone = _window_events(archive, undone=True)
    newer = rule_set(version=4, on_fail={"action": "archive", "auto_archive": True, "archive_reason_id": "ar-1"})
    again = evaluate(*BASE, *fail, made, scheduled, undone, rules=newer)
    assert isinstance(again, NotApplicable) and "undone (by U9)" in again.reason
    # without the undo, a new version may decide the stage again (as before the undo window)
    _, released = _window_events(archive, undone=False)
    assert isinstance(evaluate(*BASE, *fail, made, scheduled, released, rules=newer), Decision)


def test_a_recruiters_undone_archive_says_so_and_is_not_repeated():
    events, proposal = proposal_events()
    archive = evaluate(*events, click(proposal, "archive"))
    made = env("DecisionMade", decision_made(archive, APP, decided_at=LATER), source="evaluator")
    scheduled, undone = _window_events(archive, undone=True)
    waiting = evaluate(*events, click(proposal, "archive"), made, scheduled)
    assert isinstance(waiting, NotApplicable) and "waits for its undo window" in waiting.reason
    after = evaluate(*events, click(proposal, "archive"), made, scheduled, undone)
    assert isinstance(after, NotApplicable) and "undone by U9" in after.reason


def test_a_merged_away_application_is_never_decided_and_says_who_continues_it():
    merged = env("ApplicationMerged", {"application_id": APP, "surviving_application_id": "app-9",
                                       "deleted_candidate_id": "c2", "merged_candidate_id": "c1",
                                       "reason": "candidate c2 was merged into c1"})
    result = evaluate(*BASE, *BOTH_PASS, merged)
    assert isinstance(result, NotApplicable) and "app-9 continues it" in result.reason
    kept = env("ApplicationMerged", {"application_id": APP, "surviving_application_id": APP,
                                     "deleted_candidate_id": "c2", "merged_candidate_id": "c1", "reason": "kept"})
    assert isinstance(evaluate(*BASE, *BOTH_PASS, kept), Decision)  # kept under the merged candidate: goes on

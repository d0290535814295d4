"""Properties of the fold: the outcome depends on the set of facts, not their arrival order, and
re-applying an event changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope
from contracts.ids import command_id, derive_id
from evaluator.pure_core import World, decide, evolve, fold
from evaluator.rules import versioned

APP = "app-1"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
USERS = ("usr-1", "usr-2", "usr-3")
RULES = versioned({"name": "p", "rules": [{
    "id": "r", "interview_plan_id": "plan-1", "stage_id": "stg-2",
    "requirements": [
        {"interview_id": "int-1", "field": "overall", "operator": ">=", "threshold": 3},
        {"interview_id": "int-2", "field": "fit", "operator": "in", "threshold": ["yes", "strong_yes"],
         "required": False},
        {"interview_id": "int-1", "field": "hire", "operator": "==", "threshold": True, "required": False}],
    "on_fail": {"action": "propose_rejection", "archive_reason_id": "ar-1"}}]}, 3)
PROPOSAL = command_id(3, APP, "stg-2", "propose_rejection")
NOWS = (T0 + timedelta(hours=1), T0 + timedelta(days=2), T0 + timedelta(days=8))


def env(event_type: str, payload: dict, minute: int, source: str = "ashby") -> Envelope:
    when = T0 + timedelta(minutes=minute)
    return Envelope(event_id=derive_id(event_type, json.dumps(payload, sort_keys=True)), event_type=event_type,
                    key=APP, occurred_at=when, recorded_at=when, source=source, payload=payload)


def iso(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat()


minutes = st.integers(min_value=0, max_value=300)

snapshots = st.builds(
    lambda stage, status, m: env("ApplicationSnapshotted", {
        "application_id": APP, "job_id": "job-1", "interview_plan_id": "plan-1", "current_stage_id": stage,
        "status": status, "fetched_at": iso(m)}, m),
    st.sampled_from(["stg-2", "stg-2", "stg-3"]), st.sampled_from(["Active"] * 5 + ["Archived"]), minutes)


def _schedule(sid: str, stage: str, status: str, panel: list[tuple[str, bool]], m: int) -> Envelope:
    events = [{"id": f"{sid}-{iid}", "interviewId": iid, "interviewerUserIds": [u for u, _ in panel],
               "interviewers": [{"id": u, "isFeedbackRequired": req} for u, req in panel]}
              for iid in ("int-1", "int-2")]
    return env("InterviewScheduleUpdated", {"action": "interviewScheduleUpdate", "schedule": {
        "id": sid, "status": status, "applicationId": APP, "interviewStageId": stage, "createdAt": iso(0),
        "updatedAt": iso(m), "interviewEvents": events}}, m)


schedules = st.builds(
    _schedule, st.sampled_from(["sch-1", "sch-2"]), st.sampled_from(["stg-2", "stg-2", "stg-3"]),
    st.sampled_from(["Scheduled", "WaitingOnFeedback", "Complete", "Cancelled"]),
    st.lists(st.tuples(st.sampled_from(USERS), st.booleans()), max_size=2, unique_by=lambda p: p[0]), minutes)



def mostly(good: list, bad: list) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good), st.sampled_from(bad))


overall = mostly([4, 3, "3", {"score": 4}, " 5 "], [2, "1", {"score": 2}, None, "abc", {"odd": 1}])
fit = mostly(["yes", {"value": "strong_yes"}, ["yes"], "Yes"], ["no", 3, ["yes", "no"], None])
hire = mostly([True, "true", "TRUE"], [False, "false", "maybe", None])

feedbacks = st.builds(
    lambda fid, user, sid, iid, overall, fit, hire, m: env("FeedbackSubmitted", {
        "feedback_id": fid, "application_id": APP, "submitted_at": iso(m), "submitted_by_user_id": user,
        "interview_id": iid, "interview_event_id": f"{sid}-{iid}",
        "submitted_values": {"overall": overall, "fit": fit, "hire": hire}}, m),
    st.sampled_from(["fb-1", "fb-2", "fb-3", "fb-4"]), st.sampled_from(USERS), st.sampled_from(["sch-1", "sch-2"]),
    st.sampled_from(["int-1", "int-2"]), overall, fit, hire, minutes)

plans = st.builds(
    lambda order, m: env("InterviewPlanSynced", {"record_id": "plan-1", "data": {"id": "plan-1", "stages": [
        {"id": s, "orderInInterviewPlan": o, "type": "Active"} for s, o in zip(["stg-1", "stg-2", "stg-3"], order,
                                                                                 strict=True)]}}, m),
    st.permutations([1, 2, 3]), minutes)

decision_facts = st.just([]) | st.lists(st.one_of(
    st.builds(lambda m: env("DecisionMade", {
        "decision_id": "d-prop", "application_id": APP, "stage_id": "stg-2", "rule_set_version": 3, "rule_id": "r",
        "outcome": "propose_rejection", "mode": "live", "archive_reason_id": "ar-1", "command_id": PROPOSAL,
        "decided_at": iso(m)}, m, "evaluator"), minutes),
    st.builds(lambda choice, user, m: env("RecruiterDecided", {
        "proposal_command_id": PROPOSAL, "application_id": APP, "choice": choice, "slack_user_id": user}, m, "slack"),
        st.sampled_from(["archive", "keep"]), st.sampled_from(["U1", "U2"]), minutes)), max_size=3)

facts = st.tuples(st.lists(snapshots, min_size=1, max_size=3), st.lists(schedules, max_size=4),
                  st.lists(feedbacks, max_size=10), st.lists(plans, max_size=2), decision_facts).map(
    lambda parts: [e for part in parts for e in part])


def folded(events: list[Envelope]) -> World:
    w = World()
    for e in events:
        w = fold(w, e)
    return w


def outcomes(w: World) -> list:
    return [decide(w.app(APP), w.catalog, RULES, now) for now in NOWS]


@settings(max_examples=300, deadline=None)
@given(facts.flatmap(lambda events: st.tuples(st.just(events), st.permutations(events))))
def test_the_state_and_the_decision_depend_on_the_facts_not_their_arrival_order(pair):
    events, shuffled = pair
    in_order, reordered = folded(events), folded(shuffled)
    assert in_order == reordered
    assert outcomes(in_order) == outcomes(reordered)


@settings(max_examples=300, deadline=None)
@given(facts.flatmap(lambda events: st.tuples(
    st.just(events), st.integers(0, max(len(events) - 1, 0)), st.integers(0, len(events)))))
def test_re_applying_an_event_anywhere_changes_nothing(case):
    events, pick, where = case
    repeated = [*events[:where], events[pick], *events[where:]]
    assert folded(repeated) == folded(events)
    state = folded(events).app(APP)
    for e in events:
        assert evolve(evolve(state, e), e) == evolve(state, e)


# --- the hot path's shortcuts give what the plain library calls give -----------------------------

_PART = st.one_of(st.none(), st.integers(), st.text(st.characters(exclude_categories=("Cs",)), max_size=20))


@settings(max_examples=300, deadline=None)
@given(st.lists(_PART, max_size=6))
def test_derive_id_is_str_of_uuid5(parts):
    import uuid

    from contracts.ids import _NAMESPACE

    name = "\x1f".join("" if p is None else str(p) for p in parts)
    assert derive_id(*parts) == str(uuid.uuid5(_NAMESPACE, name))


_IDS = st.sampled_from(("a", "b", "c", "d"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_IDS, _IDS, st.one_of(st.none(), _IDS)), min_size=1, max_size=8, unique=True),
       st.one_of(st.none(), _IDS), st.one_of(st.none(), _IDS), st.one_of(st.none(), _IDS))
def test_match_rule_through_the_index_is_the_plain_scan(keys, plan, stage, job):
    from evaluator.rules import RuleSet, match_rule

    doc = {"name": "m", "rules": [
        {"id": f"r{n}", "interview_plan_id": p, "stage_id": s, "job_id": j,
         "requirements": [{"interview_id": "i", "field": "f", "operator": ">=", "threshold": 1}],
         "on_fail": {"action": "nothing"}} for n, (p, s, j) in enumerate(keys)]}
    rules = RuleSet.model_validate(doc)
    plan_wide = expected = None
    for rule in rules.rules:  # the definition: the job's own rule, else the (last) plan-wide one
        if rule.interview_plan_id == plan and rule.stage_id == stage:
            if rule.job_id is not None and rule.job_id == job:
                expected = rule
                break
            if rule.job_id is None:
                plan_wide = rule
    assert match_rule(rules, plan, stage, job) == (expected or plan_wide)
    assert rules == RuleSet.model_validate(doc)  # the index does not make equal rule sets unequal
    other = rules.model_copy(update={"rules": rules.rules[:1]})
    assert match_rule(other, plan, stage, job) in (None, rules.rules[0])

"""Replay reproduces what the live evaluator decided, on generated histories of hundreds of
applications (random interleavings, duplicates, late and edited feedback, v1 events, rule-set
changes, plan re-syncs, commands carried out or not, recruiter clicks), and its shortcuts never
change a result."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contracts.envelope import Envelope, parse_envelope
from contracts.upcasters import current_version
from evaluator.decision_and_timers import Wait
from evaluator.rules import RuleSet
from replay.replayer import CURRENT, Replayer, replay_lanes
from replay.report import compare, explain
from replay.results import verify
from support.replay_history import T0, LiveModel, generated_inputs, rule_doc


def as_read(log: list[Envelope]) -> list[Envelope]:
    """The log as a reader sees it: every event through parsing and upcasting."""
    return [parse_envelope(e.to_bytes()) for e in log]


def replay_live(log: list[Envelope]):
    """Replay with the rules that were live, as `--verify` runs it: timers fire up to the last
    event read, since live cannot have fired a later one yet (a timeout due after the end of the
    log is not a defect)."""
    return replay_lanes(as_read(log), {"live": CURRENT}, horizon=max(e.recorded_at for e in log))


def live_history(n_apps: int, seed: int, **kw) -> tuple[LiveModel, list[Envelope]]:
    model = LiveModel(seed=seed)
    inputs = generated_inputs(n_apps, seed, **kw)
    model.run([e if e.schema_version >= current_version(e.event_type) else parse_envelope(e.to_bytes())
               for e in inputs])
    # the log keeps what was sent: old schema versions stay old (never rewritten)
    originals = {e.event_id: e for e in inputs}
    return model, [originals.get(e.event_id, e) for e in model.log]


TWO_VERSIONS = [(0.0, rule_doc(quiet="2h")), (0.45, rule_doc(onsite=4, quiet="1h", shadow_plan="plan-b"))]


@pytest.fixture(scope="module")
def history():
    return live_history(300, 11, activations=TWO_VERSIONS)


def test_the_generated_history_is_rich_enough_to_mean_something(history):
    model, log = history
    outcomes = {d["outcome"] for d in model.decisions}
    assert {"advance", "propose_rejection", "archive", "timeout"} <= outcomes
    assert {d["rule_set_version"] for d in model.decisions} == {1, 2}
    assert any(d["mode"] == "shadow" for d in model.decisions)
    kinds = {e.event_type for e in log}
    assert {"CommandSucceeded", "RecruiterDecided", "EvaluationRequested", "InterviewPlanSynced"} <= kinds
    assert any(e.event_type == "FeedbackSubmitted" and e.schema_version == 1 for e in log)
    assert len({e.key for e in log if e.event_type == "ApplicationSnapshotted"}) == 300
    reopened = {e.key for e in log if e.event_type == "ApplicationSnapshotted" and e.payload["status"] == "Archived"}
    assert any(e.key in reopened and e.payload["status"] == "Active" and e.recorded_at > T0 + timedelta(days=9)
               for e in log if e.event_type == "ApplicationSnapshotted")


def test_replay_with_the_rules_that_were_live_reproduces_every_recorded_decision(history):
    model, log = history
    run = replay_live(log)
    assert len(run.recorded) == len(model.decisions)
    assert verify(run["live"], run.recorded) == []
    assert len(run["live"].decisions) == len(model.decisions)
    assert run.dropped and run.revived_ids  # finished applications left memory; reopened ones came back


def test_a_lost_or_extra_decision_is_reported_as_a_defect(history):
    _, log = history
    decisions = [e for e in log if e.event_type == "DecisionMade"]
    dropped, changed = decisions[3], decisions[7]
    forged = changed.model_copy(update={"payload": {**changed.payload, "rule_id": "someone-else"}})
    tampered = [forged if e is changed else e for e in log if e is not dropped]
    run = replay_live(tampered)
    defects = verify(run["live"], run.recorded)
    assert {(d.kind, d.application_id) for d in defects} == {
        ("unexpected", dropped.key), ("different", changed.key)}
    assert "rule_id: recorded 'someone-else'" in next(str(d) for d in defects if d.kind == "different")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10_000), n_apps=st.integers(min_value=20, max_value=120),
       switch=st.floats(min_value=0.05, max_value=0.95))
@example(seed=1772, n_apps=20, switch=0.5)  # a timeout due after the log's last event: not live's yet
def test_replay_reproduces_live_decisions_for_any_interleaving(seed, n_apps, switch):
    docs = [(0.0, rule_doc(quiet="0s", timeout="3d")),
            (switch, rule_doc(screen=4, quiet="1h", archive_plan="plan-a"))]
    model, log = live_history(n_apps, seed, activations=docs)
    run = replay_live(log)
    assert verify(run["live"], run.recorded) == []
    assert len(run.recorded) == len(model.decisions)


def _decisions(result):
    return sorted((d.key(), d.rule_id, d.target_stage_id, d.decided_at, d.explanation_json) for d in result.decisions)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_the_replay_shortcuts_never_change_a_result(seed):
    rnd = random.Random(seed)
    _, log = live_history(80, seed, activations=[(0.0, rule_doc()), (rnd.random(), rule_doc(onsite=4))])
    lanes = {"live": CURRENT, "same": RuleSet.model_validate(rule_doc()),
             "strict": RuleSet.model_validate(rule_doc(screen=rnd.choice((3.5, 4, 5)), quiet="30m")),
             "none": None}
    events = as_read(log)
    horizon = events[-1].recorded_at + timedelta(days=rnd.choice((0, 1, 30)))
    a = replay_lanes(events, lanes, horizon=horizon)
    slow = Replayer(lanes, shortcuts=False)
    slow.feed_many(events)
    b = slow.finish(horizon)
    for name in lanes:
        assert _decisions(a[name]) == _decisions(b[name]), name
        assert _waits(a[name]) == _waits(b[name]), name
        assert a[name].left == b[name].left, name
    assert a["none"].left  # a lane without rules leaves every stage undecided


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=10_000), late_catalog=st.booleans())
def test_the_schedule_update_shortcut_never_changes_a_result(seed, late_catalog):
    """With and without the schedule-update proof (`replay.skips`), and without any
    shortcut: the same decisions, the same final evaluations (reasons and all), the same timers
    fired; and the proof does skip evaluations."""
    rnd = random.Random(seed)
    _, log = live_history(60, seed, activations=[(0.0, rule_doc()), (rnd.random(), rule_doc(onsite=4))],
                          late_catalog=late_catalog)
    lanes = {"live": CURRENT, "same": RuleSet.model_validate(rule_doc()),
             "strict": RuleSet.model_validate(rule_doc(screen=rnd.choice((3.5, 4, 5)), quiet="30m"))}
    events = as_read(log)
    horizon = events[-1].recorded_at + timedelta(days=rnd.choice((0, 1, 30)))
    runs = []
    for kw in ({}, {"schedule_skips": False}, {"shortcuts": False}):
        replayer = Replayer(lanes, drop_finished=False, **kw)
        replayer.feed_many(events)
        runs.append(replayer.finish(horizon))
    fast, without, slow = runs
    for name in lanes:
        for other in (without, slow):
            assert _decisions(fast[name]) == _decisions(other[name]), name
            assert fast[name].finals == other[name].finals, name
            assert fast[name].left == other[name].left, name
            assert fast[name].timers_fired == other[name].timers_fired, name
    assert sum(fast[n].evaluations for n in lanes) < sum(without[n].evaluations for n in lanes)


def _waits(result):
    """What each undecided application waits for, and until when (what a report shows)."""
    return {app: (f.stage_id, f.until, sorted(r.kind for r in f.reasons))
            for app, f in result.finals.items() if isinstance(f, Wait)}


def test_a_stricter_rule_set_changes_exactly_the_decisions_it_should():
    """Raising the screen threshold from 3 to 4: every screen that passed only with a 3 or 3.5
    becomes a proposed rejection; nothing else changes."""
    model, log = live_history(200, 5, activations=[(0.0, rule_doc(quiet="0s"))], late_catalog=False)
    events = as_read(log)
    run = replay_lanes(events, {"before": RuleSet.model_validate(rule_doc(quiet="0s")),
                                "after": RuleSet.model_validate(rule_doc(screen=4, quiet="0s"))})
    diff = compare(run["before"], run["after"])

    expected = set()
    for d in run["before"].decisions:
        if d.outcome != "advance" or not d.stage_id.endswith("-screen"):
            continue
        values = [v for r in d.explanation["requirements"] for v in r["values"]]
        if any(_number(v) < 4 for v in values):
            expected.add((d.application_id, d.stage_id))
    assert expected, "the history should have screens passed with a 3"
    changed = {(c.application_id, c.stage_id) for c in diff.changes if c.stage_id.endswith("-screen")}
    assert changed == expected
    assert all(c.kind == "changed" and c.before.outcome == "advance" and c.after.outcome == "propose_rejection"
               for c in diff.changes if c.stage_id.endswith("-screen"))
    # the onsite rule is the same; onsite decisions only differ for candidates the screen now stops
    for c in diff.changes:
        if c.stage_id.endswith("-onsite"):
            assert (c.application_id, c.stage_id.replace("onsite", "screen")) in expected
    assert any("overall >= 3" in line and "overall >= 4" in line for c in diff.changes for line in explain(c))
    assert model.decisions  # the live run decided things too (it is not what this test compares)


def _number(raw) -> float:
    """The generator's scores: 3, "4", 3.5 or {"score": 5}."""
    return float(raw["score"] if isinstance(raw, dict) else raw)


def test_since_and_until_bound_the_reported_decisions():
    _, log = live_history(60, 3, activations=[(0.0, rule_doc())], late_catalog=False)
    events = as_read(log)
    since, until = T0 + timedelta(days=4), T0 + timedelta(days=9)
    run = replay_lanes(events, {"live": CURRENT}, since=since, until=until)
    assert run["live"].decisions
    assert all(since <= d.decided_at <= until for d in run["live"].decisions)
    assert all(since <= r.at <= until for r in run.recorded.values())
    assert verify(run["live"], run.recorded) == []


def test_the_replay_folds_its_own_decisions_exactly_as_evolve_folds_decision_made(history):
    from evaluator.application_state import AppState, evolve
    from evaluator.decision_and_timers import Decision
    from evaluator.pure_core import decision_made
    from replay.replayer import decision_record
    from support.replay_history import envelope

    model, _ = history
    for p in model.decisions[:200]:
        decision = Decision(p["outcome"], p["rule_id"], p["rule_set_version"], p["stage_id"], p["target_stage_id"],
                            p["archive_reason_id"], p["mode"], p["dry_run"], p["explanation"],
                            p["explanation"].get("archive_email_template_id"))
        at = T0 + timedelta(days=3, microseconds=17)
        payload = decision_made(decision, p["application_id"], decided_at=at)
        echo = envelope("DecisionMade", p["application_id"], payload, at, event_id=payload["decision_id"])
        folded = evolve(AppState(p["application_id"]), echo).decisions
        assert folded == {payload["decision_id"]: decision_record(decision, p["application_id"], at)}

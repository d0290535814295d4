"""Schema evolution under replay: a FeedbackSubmitted recorded in its v1 form (read from the log
through the upcasters, never rewritten) drives exactly the decision its v2 form drives."""

from __future__ import annotations

from datetime import timedelta

from contracts.envelope import parse_envelope
from contracts.event_log import log_row_envelope, log_row_event
from evaluator.rules import RuleSet
from replay.replayer import CURRENT, replay
from support.replay_history import T0, activation, catalog, feedback, rule_doc, schedule, snapshot

APP, PLAN = "app-v1", "plan-a"


def history(*, v1: bool, scores=(4, 2)):
    start = T0 + timedelta(hours=1)
    events = [*catalog(T0), activation(1, rule_doc(quiet="0s"), T0),
              snapshot(APP, PLAN, f"{PLAN}-screen", "Active", start),
              schedule(APP, PLAN, 0, "WaitingOnFeedback", ["usr-1", "usr-2"], start, start + timedelta(hours=1))]
    for n, (user, score) in enumerate(zip(("usr-1", "usr-2"), scores, strict=True)):
        at = start + timedelta(hours=2 + n)
        events.append(feedback(APP, PLAN, 0, user, score, at, at, v1=v1))
    return events


def as_log_row(env):
    """The event_log row of an event (as the table stores it: type, version, raw payload)."""
    return (1, env.event_id, env.event_type, env.schema_version, env.key, env.source, env.occurred_at,
            env.recorded_at, env.correlation_id, env.causation_id, env.payload)


def as_replay_row(env, seq=1):
    """The same row as a replay reads it (`LOGGED_EVENT_COLUMNS`)."""
    return (env.event_id, env.event_type, env.schema_version, env.key, env.source, env.occurred_at,
            env.recorded_at, env.correlation_id, env.causation_id, env.payload, seq)


def decisions(events, rules=CURRENT):
    return [(d.key(), d.rule_id, d.decided_at, d.explanation_json) for d in replay(events, rules).decisions]


def test_v1_feedback_is_stored_in_its_old_form():
    v1 = [e for e in history(v1=True) if e.event_type == "FeedbackSubmitted"]
    assert v1 and all(e.schema_version == 1 and "values" in e.payload for e in v1)


def test_an_upcast_v1_feedback_drives_the_same_decision_as_its_v2_form():
    from_table = [log_row_event(as_replay_row(e)) for e in history(v1=True)]
    envelopes_from_table = [log_row_envelope(as_log_row(e)) for e in history(v1=True)]
    from_stream = [parse_envelope(e.to_bytes()) for e in history(v1=True)]
    v2 = history(v1=False)
    expected = decisions(v2)
    assert [k[0][3] for k in expected] == ["propose_rejection"]
    assert decisions(from_table) == expected
    assert decisions(envelopes_from_table) == expected
    assert decisions(from_stream) == expected
    strict = RuleSet.model_validate(rule_doc(screen=4, quiet="0s"))
    passing = history(v1=True, scores=(4, 5))
    assert decisions([log_row_event(as_replay_row(e)) for e in passing], strict) == decisions(history(v1=False, scores=(4, 5)), strict)
    assert [k[0][3] for k in decisions(history(v1=False, scores=(4, 5)), strict)] == ["advance"]

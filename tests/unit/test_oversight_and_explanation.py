"""Oversight counts and medians by hand; an explanation in plain words, without interviewers' names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from compliance.explanation import Answer, Titles, explain, to_html, to_text
from compliance.oversight import Proposal, oversight

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_oversight_counts_per_rule_and_recruiter_with_the_median_answer_time():
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    found = [Proposal("r1", "c1", T0, "archive", at(60), "U1"), Proposal("r1", "c2", T0, "keep", at(180), "U1"),
             Proposal("r1", "c3", T0, "archive", at(30), "U2"), Proposal("r1", "c4", T0),
             Proposal("r2", "c5", T0, "keep", at(600), "U2")]
    rep = oversight(found, {"r1": 1, "r3": 2})
    by_rule = {r.rule_id: r for r in rep.by_rule}
    r1 = by_rule["r1"]
    assert (r1.proposals, r1.confirmed, r1.kept, r1.unanswered) == (4, 2, 1, 1)
    assert r1.median_answer_s == 60.0 and r1.override_rate == round(1 / 3, 4) and r1.automatic_rejections == 1
    assert (by_rule["r3"].proposals, by_rule["r3"].automatic_rejections) == (0, 2)
    pairs = {(r.rule_id, r.recruiter): (r.proposals, r.confirmed, r.kept, r.unanswered, r.median_answer_s)
             for r in rep.by_rule_and_recruiter}
    assert pairs == {("r1", "U1"): (2, 1, 1, 0, 120.0), ("r1", "U2"): (1, 1, 0, 0, 30.0),
                     ("r1", None): (1, 0, 0, 1, None), ("r2", "U2"): (1, 0, 1, 0, 600.0)}


def _decision(outcome: str, **kw) -> dict:
    base = {"decision_id": "d1", "stage_id": "stage-screen", "rule_set_version": 3, "rule_id": "screen-rule",
            "outcome": outcome, "mode": "live", "dry_run": False, "target_stage_id": "stage-onsite",
            "command_id": "cmd-1", "status": "succeeded", "decided_at": T0, "explanation": {"requirements": [{
                "interview_id": "int-1", "field": "overall", "operator": ">=", "threshold": 3, "aggregate": "all",
                "values": [{"score": 4}, {"score": 2}], "passed": outcome == "advance",
                "checks": [{"submitted_by": "u-jane"}, {"submitted_by": "u-john"}]}]}}
    return {**base, **kw}


TITLES = Titles(stages={"stage-screen": "Screen", "stage-onsite": "Onsite"}, interviews={"int-1": "Tech chat"},
                questions={"overall": "Overall score"})


def test_an_explanation_gives_each_value_against_its_threshold_and_no_interviewer_names():
    e = explain("app-1", "Ada", [_decision("advance")], {}, TITLES)
    [d] = e.decisions
    [r] = d.requirements
    assert r.values == [4, 2] and r.threshold == 3 and r.given_by is None
    assert r.text == "Tech chat, question “Overall score”: every interviewer's answer must be at least 3; answers given: 4, 2 — met."
    assert "moved on to Onsite" in d.text and "rule set version 3" in d.text and d.took_effect
    for page in (to_text(e), to_html(e)):
        assert "u-jane" not in page and "Jane" not in page and "Overall score" in page


def test_interviewers_are_named_only_when_allowed():
    named = replace(TITLES, interviewers={"u-jane": "Jane Doe", "u-john": "John Roe"})
    [r] = explain("app-1", None, [_decision("advance")], {}, named).decisions[0].requirements
    assert r.given_by == ["Jane Doe", "John Roe"] and "4 (Jane Doe), 2 (John Roe)" in r.text


def test_a_proposal_tells_who_reviewed_it_and_when_and_the_follow_up_archive_is_its_review():
    proposal = _decision("propose_rejection", status="recruiter_chose_archive")
    follow_up = _decision("archive", decision_id="d2", command_id="cmd-2",
                          explanation={"decided_by": "recruiter", "requirements": []})
    e = explain("app-1", None, [proposal, follow_up], {"cmd-1": Answer("archive", T0 + timedelta(hours=2))}, TITLES)
    [d] = e.decisions
    assert d.human_review is not None and d.human_review.answer == "confirmed"
    assert "02 November 2026 at 11:00 UTC a recruiter reviewed it and confirmed it" in d.human_review.text
    kept = explain("app-1", None, [proposal], {"cmd-1": Answer("keep", T0)}, TITLES).decisions[0]
    assert kept.human_review is not None and kept.human_review.answer == "kept"
    waiting = explain("app-1", None, [_decision("propose_rejection", status="awaiting_recruiter")], {}, TITLES)
    assert waiting.decisions[0].human_review.text == "A recruiter was asked and has not answered yet."


def test_test_runs_and_automatic_archives_say_what_they_did():
    shadow = explain("a", None, [_decision("advance", mode="shadow")], {}, TITLES).decisions[0]
    assert not shadow.took_effect and "test run" in shadow.text
    auto = explain("a", None, [_decision("archive")], {}, TITLES).decisions[0]
    assert "without a person reviewing it first" in auto.text
    assert explain("a", None, [], {}, TITLES).intro == "No automated decision has been made about this application."


def test_the_page_escapes_whatever_ashby_or_the_rules_hold():
    hostile = replace(TITLES, stages={"stage-screen": "<script>x()</script>"})
    page = to_html(explain("app-<1>", "<img src=x onerror=y()>", [_decision("advance")], {}, hostile))
    assert "<script>" not in page and "<img" not in page and "&lt;img src=x" in page

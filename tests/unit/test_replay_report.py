"""What a what-if report says of a side that never decided in a stage the application left: what
that side was still waiting for there, and "no decision" (not "not required") for the
requirements the other side judged."""

from __future__ import annotations

from datetime import timedelta

from compliance.impact import report as impact_report
from evaluator.decision_and_timers import Wait
from evaluator.rules import RuleSet
from replay.replayer import CURRENT, replay_lanes
from replay.report import WAIT, compare, explain, merge_diffs, to_html, to_json, to_table
from support.replay_history import T0, activation, catalog, feedback, rule_doc, schedule, snapshot, stages


def _history() -> list:
    """One application: its screen passed with a 4 under the live rules, so it moved on to the
    onsite; a proposal that also requires an interview nobody scheduled would still be waiting."""
    app, plan = "app-1", "plan-a"
    screen, onsite = stages(plan)[0], stages(plan)[1]
    t = T0 + timedelta(hours=1)
    return [*catalog(T0), activation(1, rule_doc(quiet="0s"), T0),
            snapshot(app, plan, screen, "Active", t),
            schedule(app, plan, 0, "Scheduled", ["usr-1"], t, t + timedelta(minutes=5)),
            feedback(app, plan, 0, "usr-1", 4, t + timedelta(days=1), t + timedelta(days=1)),
            snapshot(app, plan, onsite, "Active", t + timedelta(days=2))]


def test_a_side_that_never_decided_says_what_it_waited_for():
    proposal = rule_doc(quiet="0s")
    proposal["rules"][0]["requirements"].append(
        {"interview_id": "int-plan-a-extra", "field": "overall", "operator": ">=", "threshold": 3})
    run = replay_lanes(_history(), {"live": CURRENT, "proposal": RuleSet.model_validate(proposal)},
                       horizon=T0 + timedelta(days=3))
    diff = compare(run["live"], run["proposal"])

    [change] = diff.changes
    assert (change.application_id, change.stage_id, change.kind) == ("app-1", "plan-a-screen", "removed")
    assert change.before.outcome == "advance" and change.after.outcome == WAIT
    assert change.after.note == "required interview int-plan-a-extra has no schedule in this stage"
    left = run["proposal"].left[("app-1", "plan-a-screen")]
    assert isinstance(left, Wait) and [r.kind for r in left.reasons] == ["interview_not_scheduled"]
    why = explain(change)
    assert why == ["overall >= 3 (4): passed -> no decision",
                   "after (no decision): required interview int-plan-a-extra has no schedule in this stage"]
    assert to_json(run, diff)["changes"][0]["after"]["note"] == change.after.note
    # a table or page names the sides by their lanes, as its columns do
    said = "proposal (no decision): required interview int-plan-a-extra has no schedule in this stage"
    assert said in to_table(run, diff) and said in to_html(run, diff)


def _titled(events: list) -> list:
    """The history with the plans' stages titled as Ashby titles them (the fixture uses the ids)."""
    titles = {"plan-a-screen": "Phone screen", "plan-a-onsite": "Onsite"}
    out = []
    for env in events:
        if env.event_type == "InterviewPlanSynced":
            data = env.payload["data"]
            stages_ = [{**s, "title": titles.get(s["id"], s["title"])} for s in data["stages"]]
            env = env.model_copy(update={"payload": {**env.payload, "data": {**data, "stages": stages_}}})
        out.append(env)
    return out


def test_a_report_page_names_stages_by_their_titles_and_counts_outcomes_in_words():
    proposal = rule_doc(quiet="0s")
    proposal["rules"][0]["requirements"].append(
        {"interview_id": "int-plan-a-extra", "field": "overall", "operator": ">=", "threshold": 3})
    run = replay_lanes(_titled(_history()), {"live": CURRENT, "proposal": RuleSet.model_validate(proposal)},
                       horizon=T0 + timedelta(days=3))
    page = to_html(run, compare(run["live"], run["proposal"]))

    assert run.stage_names["plan-a-screen"] == "Phone screen"
    assert "<span title='plan-a-screen'>Phone screen</span>" in page
    assert ">plan-a-screen<" not in page  # the id only on hover, in the totals and the changes alike
    assert "decisions (advance 1)" in page and "{" not in page.split("</style>")[1]


def test_each_side_counts_its_first_final_decisions_and_reports_its_impact_table():
    strict = rule_doc(quiet="0s")
    strict["rules"][0]["requirements"][0]["threshold"] = 5
    run = replay_lanes(_history(), {"live": CURRENT, "strict": RuleSet.model_validate(strict)},
                       horizon=T0 + timedelta(days=3))
    diff = compare(run["live"], run["strict"])
    assert [(u.application_id, u.stage_id, u.advanced) for u in diff.selections["live"]] == [
        ("app-1", "plan-a-screen", True)]
    assert [u.advanced for u in diff.selections["strict"]] == [False]
    merged = merge_diffs([diff, compare(run["live"], run["strict"])])
    assert len(merged.selections["live"]) == 2  # partitions' selections add up like their totals
    assert "impact" not in to_json(run, diff)  # no categories read: no table claimed
    cats = {"app-1": {"sex": "F"}}
    diff.impact = {name: impact_report(name, units, cats, min_group_size=1) for name, units in diff.selections.items()}
    shown = to_json(run, diff)["impact"]
    [live_row] = shown["live"]["groups"][0]["dimensions"][0]["categories"]
    [strict_row] = shown["strict"]["groups"][0]["dimensions"][0]["categories"]
    assert (live_row["n"], live_row["advanced"], strict_row["advanced"]) == (1, 1, 0)
    assert "Impact (strict)" in to_table(run, diff) and "Impact: strict" in to_html(run, diff)

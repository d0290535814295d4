"""Rule-set documents: validation that finds every problem, loading, matching, and the seed-app mapping."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from evaluator.rules import (
    Problem,
    RuleSet,
    RuleSetInvalid,
    format_duration,
    load_rule_set,
    match_rule,
    parse_document,
    parse_duration,
    validate_document,
    versioned,
)
from evaluator.seed_rules_import import convert_seed_rule, convert_seed_rules, convert_threshold

ROOT = Path(__file__).resolve().parents[2]


def rule(**over) -> dict:
    return {"id": "r1", "interview_plan_id": "plan-1", "stage_id": "stg-2",
            "requirements": [{"interview_id": "int-1", "field": "overall", "operator": ">=", "threshold": 3}],
            "on_fail": {"action": "propose_rejection", "archive_reason_id": "ar-1"}, **over}


def doc(*rules: dict, **over) -> dict:
    return {"name": "test", "rules": list(rules) or [rule()], **over}


def req(**over) -> dict:
    return {"interview_id": "int-1", "field": "overall", "operator": ">=", "threshold": 3, **over}


def test_the_example_rule_set_is_valid_in_yaml_and_in_json():
    text = (ROOT / "examples/rules.yaml").read_text()
    rules = load_rule_set(text)
    assert rules.version is None and len(rules.rules) == 3
    assert load_rule_set(json.dumps(rules.model_dump(mode="json")), fmt="json") == rules


def test_the_yaml_example_in_the_docs_is_the_example_file():
    docs = (ROOT / "docs/rules.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", docs, re.S).group(1)
    assert load_rule_set(block) == load_rule_set((ROOT / "examples/rules.yaml").read_text())


@pytest.mark.parametrize(("document", "location", "fragment"), [
    (doc(rule(requirements=[req(operator="=>")])), "rules[0].requirements[0].operator", "unknown operator '=>'"),
    (doc(rule(requirements=[])), "rules[0].requirements", "at least one requirement"),
    (doc(rule(requirements=[req(operator="in", threshold="yes")])), "rules[0].requirements[0].threshold",
     "non-empty list"),
    (doc(rule(requirements=[req(operator="in", threshold=[])])), "rules[0].requirements[0].threshold", "non-empty"),
    (doc(rule(requirements=[req(threshold="3")])), "rules[0].requirements[0].threshold", "must be a number"),
    (doc(rule(requirements=[req(threshold=True)])), "rules[0].requirements[0].threshold", "must be a number"),
    (doc(rule(requirements=[req(operator="==", threshold=[1])])), "rules[0].requirements[0].threshold",
     "number, boolean or string"),
    (doc(rule(requirements=[req(operator="in", threshold=["a"], aggregate="average")])),
     "rules[0].requirements[0].aggregate", "average"),
    (doc(rule(requirements=[req(aggregate="most")])), "rules[0].requirements[0].aggregate", "'all', 'any'"),
    (doc(rule(requirements=[req(required="yes")])), "rules[0].requirements[0].required", "boolean"),
    (doc(rule(requirements=[{"interview_id": "int-1", "operator": ">=", "threshold": 3}])),
     "rules[0].requirements[0].field", "is required"),
    (doc(rule(on_fail={"action": "archive", "archive_reason_id": "ar-1"})), "rules[0].on_fail.auto_archive",
     "opt in"),
    (doc(rule(on_fail={"action": "propose_rejection", "auto_archive": True, "archive_reason_id": "ar-1"})),
     "rules[0].on_fail.auto_archive", "only applies"),
    (doc(rule(on_fail={"action": "propose_rejection"})), "rules[0].on_fail.archive_reason_id", "needs"),
    (doc(rule(on_pass={"target_stage_id": "stg-2"})), "rules[0].on_pass", "own stage"),
    (doc(rule(quiet_period="5 minutes")), "rules[0].quiet_period", "invalid duration"),
    (doc(rule(timeout="0d")), "rules[0].timeout", "longer than zero"),
    (doc(rule(mode="loud")), "rules[0].mode", "'live' or 'shadow'"),
    (doc(rule(on_timeout="panic")), "rules[0].on_timeout", "'alert' or 'nothing'"),
    (doc(rule(treshold=3)), "rules[0].treshold", "unknown field"),
    (doc(rule(), dry_run="no"), "dry_run", "boolean"),
    (doc(rule(), defaults={"quiet_period": "soon"}), "defaults.quiet_period", "invalid duration"),
    ({"rules": []}, "name", "is required"),
    (doc(rule(), rule()), "rules[1].id", "duplicate rule id 'r1'"),
    (doc(rule(), rule(id="r2")), "rules[1]", "already covers plan 'plan-1', stage 'stg-2' for the whole plan"),
    (doc(rule(job_id="j"), rule(id="r2", job_id="j")), "rules[1]", "for job 'j'"),
    ([1, 2], "document", "mapping"),
    (doc(rule(feedback_due="0s")), "rules[0].feedback_due", "feedback_due must be longer than zero"),
    (doc(rule(escalate_after="tomorrow")), "rules[0].escalate_after", "invalid duration"),
    (doc(rule(escalate_after="1d")), "rules[0].escalate_after", "set feedback_due in this rule or in defaults"),
    (doc(rule(feedback_due=None, escalate_after="1d"), defaults={"feedback_due": "1d"}),
     "rules[0].escalate_after", "counts from the feedback nudge"),
    (doc(rule(), defaults={"escalate_after": "1d"}), "defaults.escalate_after", "set defaults.feedback_due"),
    (doc(rule(), defaults={"feedback_due": "-1h"}), "defaults.feedback_due", "invalid duration"),
])
def test_each_problem_is_reported_with_its_location(document, location, fragment):
    problems = validate_document(document)
    assert any(p.location == location and fragment in p.message for p in problems), problems


def test_every_problem_in_a_document_is_reported_at_once():
    bad = doc(rule(requirements=[req(operator="=>"), req(operator="in", threshold=3)], mode="x"),
              rule(requirements=[]), rule(id="r3", on_fail={"action": "archive", "archive_reason_id": "a"}))
    locations = {p.location for p in validate_document(bad)}
    assert {"rules[0].requirements[0].operator", "rules[0].requirements[1].threshold", "rules[0].mode",
            "rules[1].requirements", "rules[1].id", "rules[2].on_fail.auto_archive", "rules[1]",
            "rules[2]"} <= locations
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(json.dumps(bad), fmt="json")
    assert len(raised.value.problems) == len(validate_document(bad))
    assert "rules[0].requirements[0].operator: unknown operator '=>'" in str(raised.value)


def test_a_conflict_is_reported_once_even_when_the_rest_is_valid():
    problems = validate_document(doc(rule(), rule()))
    assert len([p for p in problems if p.location == "rules[1].id"]) == 1


def test_text_that_is_not_yaml_or_json_is_a_located_problem():
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set("rules: [unclosed")
    assert raised.value.problems[0].location == "document"
    with pytest.raises(RuleSetInvalid):
        load_rule_set("{", fmt="json")


def test_a_valid_document_has_no_problems_and_rule_timers_fall_back_to_the_defaults():
    d = doc(rule(), rule(id="r2", stage_id="stg-3", quiet_period="2h", timeout="1w"),
            defaults={"quiet_period": "45m", "timeout": "3d"})
    assert validate_document(d) == []
    rules = RuleSet.model_validate(d)
    first, second = rules.rules
    assert (rules.quiet_period_for(first), rules.timeout_for(first)) == (timedelta(minutes=45), timedelta(days=3))
    assert (rules.quiet_period_for(second), rules.timeout_for(second)) == (timedelta(hours=2), timedelta(weeks=1))
    assert RuleSet.model_validate(doc()).defaults.quiet_period == timedelta(minutes=30)
    assert RuleSet.model_validate(doc()).defaults.timeout == timedelta(days=7)


def test_the_version_comes_from_activation_not_the_file():
    assert versioned(doc(), 7).version == 7
    assert versioned({**doc(), "version": 2}, 7).version == 7


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("7d", timedelta(days=7)),
    ("1w", timedelta(weeks=1)), ("1d12h", timedelta(days=1, hours=12)), ("90s", timedelta(seconds=90)),
    ("0m", timedelta()),
])
def test_durations_are_a_number_and_a_unit(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


def test_match_rule_prefers_the_jobs_own_rule_over_the_plan_wide_one():
    rules = RuleSet.model_validate(doc(rule(id="plan-wide"), rule(id="job-a", job_id="job-a"),
                                       rule(id="other-stage", stage_id="stg-3")))
    assert match_rule(rules, "plan-1", "stg-2", "job-a").id == "job-a"
    assert match_rule(rules, "plan-1", "stg-2", "job-b").id == "plan-wide"
    assert match_rule(rules, "plan-1", "stg-2", None).id == "plan-wide"
    assert match_rule(rules, "plan-1", "stg-3", "job-a").id == "other-stage"
    assert match_rule(rules, "plan-2", "stg-2", "job-a") is None
    only_job = RuleSet.model_validate(doc(rule(id="job-a", job_id="job-a")))
    assert match_rule(only_job, "plan-1", "stg-2", "job-b") is None


def test_a_problem_reads_as_location_and_message():
    assert str(Problem("rules[2].requirements[0].operator", "unknown operator '=>'")) == (
        "rules[2].requirements[0].operator: unknown operator '=>'")


SEED = json.loads((Path(__file__).parent / "seed_app_rule.json").read_text())


def test_the_example_seed_rule_converts_to_a_valid_rule():
    converted = convert_seed_rule(SEED)
    assert validate_document({"name": "seed", "rules": [converted]}) == []
    assert converted["job_id"] == "job-senior-backend" and converted["stage_id"] == "stage-onsite"
    assert [r["threshold"] for r in converted["requirements"]] == [3, True, 2]
    assert [r["required"] for r in converted["requirements"]] == [True, True, False]
    assert (converted["quiet_period"], converted["timeout"]) == ("30m", "7d")
    assert converted["on_fail"] == {"action": "propose_rejection", "archive_reason_id": "ar-not-a-fit"}
    assert converted["on_pass"] == {"action": "advance", "target_stage_id": None}


def test_the_seed_admin_api_shape_and_its_default_archive_reason_convert_too():
    api_shape = {"rule_id": "r", "job_id": None, "interview_plan_id": "p", "interview_stage_id": "s",
                 "target_stage_id": "offer", "requirements": [
                     {"interview_id": "i", "score_field_path": "strong_yes", "operator": "==",
                      "threshold_value": "true", "is_required": True}],
                 "actions": [{"action_type": "advance_stage", "execution_order": 1}]}
    converted = convert_seed_rule(api_shape, default_archive_reason_id="ar-default")
    assert "job_id" not in converted and converted["on_pass"]["target_stage_id"] == "offer"
    assert converted["requirements"][0] == {"interview_id": "i", "field": "strong_yes", "operator": "==",
                                            "threshold": True, "required": True, "aggregate": "all"}
    assert converted["on_fail"]["archive_reason_id"] == "ar-default"
    assert validate_document({"name": "seed", "rules": [converted]}) == []


def test_seed_rules_the_seed_app_got_wrong_are_reported_not_converted_silently():
    broken = copy.deepcopy(SEED)
    broken["requirements"][0]["operator"] = "=>"
    empty = {**copy.deepcopy(SEED), "rule_id": "empty", "interview_stage_id": "other", "requirements": []}
    problems = validate_document(convert_seed_rules([broken, empty]))
    assert {p.location for p in problems} == {"rules[0].requirements[0].operator", "rules[1].requirements"}


def test_a_seed_rule_without_reject_on_fail_leaves_failing_candidates_alone():
    converted = convert_seed_rule({**SEED, "reject_on_fail": False})
    assert converted["on_fail"] == {"action": "nothing"}


def test_inactive_seed_rules_are_left_out_of_the_converted_document():
    document = convert_seed_rules([SEED, {**SEED, "rule_id": "old", "is_active": False}], dry_run=True)
    assert [r["id"] for r in document["rules"]] == [f"seed-{SEED['rule_id']}"]
    assert document["dry_run"] is True and validate_document(document) == []


@pytest.mark.parametrize(("raw", "operator", "expected"), [
    ("3", ">=", 3), ("3.5", ">", 3.5), ("true", "==", True), ("False", "!=", False), ("yes", "==", "yes"),
    ("a, b", "in", ["a", "b"]), (4, ">=", 4), ("true", ">=", "true"),
])
def test_seed_thresholds_stored_as_strings_become_typed(raw, operator, expected):
    assert convert_threshold(raw, operator) == expected


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "examples").iterdir() if p.is_file()), ids=lambda p: p.name)
def test_every_file_under_examples_is_a_valid_rule_set(path):
    doc = parse_document(path.read_bytes(), fmt="json" if path.suffix == ".json" else "yaml")
    assert validate_document(doc) == []


def test_the_example_seed_rule_set_is_what_the_converter_makes_of_the_seed_apps_rule():
    example = json.loads((ROOT / "examples/seed_rule.json").read_text())
    converted = convert_seed_rules([SEED], name=example["name"])
    assert {**converted, "description": example["description"]} == example


def test_feedback_nudge_settings_fall_back_to_the_defaults_and_a_rule_can_turn_them_off():
    rules = RuleSet.model_validate(doc(rule(), rule(id="r2", stage_id="stg-3", feedback_due="2d"),
                                       rule(id="r3", stage_id="stg-4", feedback_due=None),
                                       defaults={"feedback_due": "24h", "escalate_after": "1d"}))
    plain, own, off = rules.rules
    assert rules.feedback_due_for(plain) == timedelta(hours=24) and rules.escalate_after_for(plain) == timedelta(days=1)
    assert rules.feedback_due_for(own) == timedelta(days=2)
    assert rules.feedback_due_for(off) is None
    assert RuleSet.model_validate(doc(rule())).feedback_due_for(plain) is None  # no nudges unless asked

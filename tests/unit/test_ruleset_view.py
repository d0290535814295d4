"""The semantic rule-set diff and locating a validation problem's line in the uploaded text."""

from __future__ import annotations

import json

import pytest

from evaluator.rules import parse_document, validate_document
from evaluator.rules_diff import diff_rule_sets, line_of

RULE = {"id": "tech", "interview_plan_id": "p", "stage_id": "s", "mode": "live",
        "requirements": [{"interview_id": "i", "field": "score", "operator": ">=", "threshold": 3}],
        "on_fail": {"action": "propose_rejection", "archive_reason_id": "r"}}


def _doc(*rules: dict, **settings: object) -> dict:
    return {"name": "rules", **settings, "rules": list(rules)}


def test_a_changed_threshold_is_one_rule_changed_at_that_field() -> None:
    stricter = {**RULE, "requirements": [{**RULE["requirements"][0], "threshold": 4}]}
    diff = diff_rule_sets(_doc(RULE), _doc(stricter))
    assert [(r.rule_id, r.kind) for r in diff.rules] == [("tech", "changed")]
    assert [(f.path, f.before, f.after) for f in diff.rules[0].fields] == [("requirements[0].threshold", 3, 4)]
    assert diff.summary() == "1 rule changed"


def test_rules_are_matched_by_id_not_position_and_modes_are_reported() -> None:
    other = {**RULE, "id": "onsite", "stage_id": "s2", "mode": "shadow"}
    diff = diff_rule_sets(_doc(RULE, other), _doc({**other, "mode": "live"}))
    assert {(r.rule_id, r.kind) for r in diff.rules} == {("tech", "removed"), ("onsite", "changed")}
    onsite = next(r for r in diff.rules if r.rule_id == "onsite")
    assert (onsite.mode_before, onsite.mode_after) == ("shadow", "live")
    assert diff.summary() == "1 rule removed, 1 rule changed"


def test_settings_outside_the_rules_are_compared_per_field() -> None:
    diff = diff_rule_sets(_doc(RULE, dry_run=False), _doc(RULE, dry_run=True, defaults={"timeout": "3d"}))
    assert [(f.path, f.before, f.after) for f in diff.settings] == [("defaults.timeout", None, "3d"),
                                                                   ("dry_run", False, True)]
    assert not diff.rules


def test_everything_is_added_when_nothing_was_active() -> None:
    diff = diff_rule_sets(None, _doc(RULE))
    assert [(r.rule_id, r.kind, r.mode_after) for r in diff.rules] == [("tech", "added", "live")]
    assert diff_rule_sets(_doc(RULE), _doc(RULE)).empty


YAML = """name: rules
rules:
  - id: tech
    interview_plan_id: p
    stage_id: s
    requirements:
      - interview_id: i
        field: score
        operator: "=>"
        threshold: 3
    on_fail:
      action: propose_rejection
"""


@pytest.mark.parametrize(("location", "line"), [
    ("rules[0].requirements[0].operator", 9), ("rules[0].on_fail", 11), ("rules[0]", 3), ("name", 1),
    ("rules[0].on_fail.archive_reason_id", 11),  # missing: its nearest parent
    ("document", None),
])
def test_a_location_points_at_its_line(location: str, line: int | None) -> None:
    assert line_of(YAML, location) == line


def test_every_problem_of_a_broken_upload_has_a_line() -> None:
    problems = validate_document(parse_document(YAML))
    assert {p.location for p in problems} >= {"rules[0].requirements[0].operator", "rules[0].on_fail.archive_reason_id"}
    assert all(line_of(YAML, p.location) for p in problems)


def test_json_text_is_located_too_and_a_syntax_error_names_its_line() -> None:
    text = json.dumps(_doc(RULE), indent=2)
    assert text.splitlines()[line_of(text, "rules[0].stage_id") - 1].strip().startswith('"stage_id"')
    assert line_of("name: x\nrules: [\n", "rules") == 3

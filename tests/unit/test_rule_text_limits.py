"""Rule-set text is read within limits: size, nesting, alias expansion, duplicate keys, encoding;
values that are not numbers never pass as thresholds, and durations stay representable."""

from __future__ import annotations

import json
import time

import pytest

from evaluator.rules import RuleSetInvalid, parse_document, validate_document
from evaluator.rules_text import MAX_BYTES, MAX_NODES

BOMB = "\n".join(["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
                 + [f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
                 + ["name: x", "rules: *i"])


def _refusal(text: str | bytes, fmt: str = "yaml") -> str:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_document(text, fmt=fmt)  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    assert problem.location == "document"
    return problem.message


def test_a_billion_laughs_document_is_refused_quickly_with_a_short_reason():
    started = time.monotonic()
    message = _refusal(BOMB)
    assert time.monotonic() - started < 0.5
    assert f"more than {MAX_NODES} values" in message and "line" in message and len(message) < 200


def test_an_alias_that_refers_to_itself_is_refused():
    assert "refers to itself" in _refusal("a: &a [*a]")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_document_nested_thousands_deep_is_refused_not_a_recursion_error(fmt):
    assert "nested deeper than" in _refusal("[" * 5000 + "]" * 5000, fmt)


def test_duplicate_yaml_keys_are_an_error_naming_the_line():
    message = _refusal("name: a\nrules: []\nname: b\n")
    assert message == "duplicate key 'name' on line 3 (first on line 1)"


def test_duplicate_json_keys_are_an_error_naming_the_line():
    assert "duplicate key 'id' on line 3" in _refusal('{"rules": [{"id": "a",\n"stage_id": "s",\n"id": "b"}]}', "json")


def test_text_that_is_not_utf8_is_refused_with_the_byte_it_failed_at():
    assert _refusal(b"name: \xff\n") == "not UTF-8 text (byte 6 cannot be decoded)"


def test_a_document_over_the_size_limit_is_refused():
    assert "larger than" in _refusal(b"#" * (MAX_BYTES + 1))


def test_a_syntax_error_names_the_place_and_does_not_echo_the_text():
    message = _refusal("name: [unclosed secret-looking-text")
    assert "line 1" in message and "secret-looking-text" not in message


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), -float("inf"), 10 ** 40, [1, float("nan")]])
def test_values_that_are_not_finite_numbers_never_pass_as_thresholds(threshold):
    operator = "in" if isinstance(threshold, list) else ">="
    doc = {"name": "n", "rules": [{"id": "r", "interview_plan_id": "p", "stage_id": "s",
                                   "requirements": [{"interview_id": "i", "field": "f", "operator": operator,
                                                     "threshold": threshold}],
                                   "on_fail": {"action": "nothing"}}]}
    problems = validate_document(doc)
    assert [p.location for p in problems] == ["rules[0].requirements[0].threshold"]


def test_yaml_nan_and_json_nan_are_refused_with_the_rule_path():
    yaml_doc = parse_document("name: n\nrules:\n- {id: r, interview_plan_id: p, stage_id: s, on_fail: {action: nothing},"
                              " requirements: [{interview_id: i, field: f, operator: '>=', threshold: .nan}]}\n")
    json_doc = parse_document(json.dumps({"name": "n", "defaults": {"timeout": "1d"}, "rules": [
        {"id": "r", "interview_plan_id": "p", "stage_id": "s", "on_fail": {"action": "nothing"},
         "requirements": [{"interview_id": "i", "field": "f", "operator": "<", "threshold": float("nan")}]}]}), fmt="json")
    for doc in (yaml_doc, json_doc):
        assert [p.location for p in validate_document(doc)] == ["rules[0].requirements[0].threshold"]


@pytest.mark.parametrize("duration", ["99999999999999999999d", "3651d", "1" + "0" * 400 + "s"])
def test_a_duration_too_large_to_represent_is_a_problem_not_a_crash(duration):
    problems = validate_document({"name": "n", "defaults": {"timeout": duration}})
    assert [p.location for p in problems] == ["defaults.timeout"]
    assert "longer than 3650 days" in problems[0].message and len(problems[0].message) < 200

"""A replay request from the API: a fidelity check takes no rule set to try (it would be ignored),
and every problem is named with its location."""

from __future__ import annotations

import pytest

from replay.request import RequestInvalid, parse_request
from support.replay_history import rule_doc


def test_verify_with_a_rule_set_to_try_is_refused_naming_both_fields() -> None:
    with pytest.raises(RequestInvalid) as refused:
        parse_request({"verify": True, "rules": rule_doc(), "against": rule_doc()})
    assert [(p.location, p.message) for p in refused.value.problems] == [
        ("rules", "not with `verify` (it replays the rules that were live)"),
        ("against", "not with `verify` (it replays the rules that were live)")]


def test_verify_against_current_is_what_verify_means_and_is_accepted() -> None:
    request, limit = parse_request({"verify": True, "against": "current", "limit": 3})
    assert request.verify and request.rules is None and request.against is None and limit == 3
    assert request.lanes() == {"live": "current"}

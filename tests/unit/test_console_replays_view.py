"""The pure parts of /ui/replays and stage names: the progress bar's numbers, pass rates per stage
summed from the per-rule totals, the console form as the API's request, a stage by its title."""

from __future__ import annotations

from datetime import UTC, datetime

from replay.request import parse_request
from runtime.console.replays_page import progress_view, request_body, stage_rates
from runtime.console.story import summarise
from runtime.console.web import stage_label

AT = datetime(2026, 1, 1, tzinfo=UTC)


def row(status: str, read: int, total: int | None) -> dict:
    return {"replay_id": "r1", "status": status, "events_read": read, "events_total": total, "heartbeat_at": AT,
            "created_at": AT, "error": None, "summary": None}


def test_the_bar_is_clamped_to_its_end_while_running_and_full_when_done() -> None:
    assert progress_view(row("running", 250, 1000))["percent"] == 25
    assert progress_view(row("running", 1300, 1000))["read"] == 1000  # workers count shared events again
    done = progress_view(row("done", 990, 1000))
    assert (done["read"], done["percent"]) == (1000, 100)
    assert progress_view(row("running", 10, None))["percent"] is None  # a row from before events_total
    assert progress_view(row("running", 0, 0))["percent"] is None


def test_pass_rates_per_stage_sum_the_rules_of_the_stage() -> None:
    tally = lambda decided, advanced: {"decided": decided, "advanced": advanced,  # noqa: E731
                                       "rejected": decided - advanced, "timed_out": 0}
    totals = [{"stage_id": "s1", "rule_id": "a", "before": tally(10, 5), "after": tally(10, 2)},
              {"stage_id": "s1", "rule_id": "b", "before": tally(30, 30), "after": tally(30, 20)},
              {"stage_id": "s2", "rule_id": "c", "before": tally(0, 0), "after": tally(4, 1)}]
    rates = {r["stage_id"]: r for r in stage_rates(totals, "before", "after")}
    assert rates["s1"]["before"]["pass_rate"] == 35 / 40 and rates["s1"]["after"]["pass_rate"] == 22 / 40
    assert rates["s2"]["before"]["pass_rate"] is None and rates["s2"]["after"]["pass_rate"] == 0.25


DOC = {"name": "Mine", "rules": [{"id": "r", "interview_plan_id": "p", "stage_id": "s", "requirements": [
    {"interview_id": "i", "field": "overall_recommendation", "operator": ">=", "threshold": 3}],
    "on_fail": {"action": "propose_rejection", "archive_reason_id": "ar"}}]}


def test_the_form_becomes_a_request_the_api_would_accept() -> None:
    versions = [{"version": 2, "document": {**DOC, "name": "Two"}}, {"version": 1, "document": DOC}]
    body = request_body({"kind": "what-if", "source": "v1", "against": "active", "since": "2026-01-01"}, "", versions)
    request, limit = parse_request(body)
    assert request.against is not None and request.against.name == "Two" and request.rules.name == "Mine"
    assert (request.before_name, request.after_name, limit) == ("active v2", "v1", 500)
    assert request.since == AT
    verify, _ = parse_request(request_body({"kind": "verify", "source": "v1"}, "", versions))
    assert verify.verify and verify.rules is None
    current, _ = parse_request(request_body({"source": "upload", "against": "current"}, "name: X\nrules: []\n", versions))
    assert current.against is None and current.rules is not None and current.rules.name == "X"


def test_a_stage_shows_its_title_with_the_id_on_hover_or_its_id_when_unknown() -> None:
    assert str(stage_label("s1", {"s1": "Onsite <2>"})) == '<span class="stage" title="s1">Onsite &lt;2&gt;</span>'
    assert str(stage_label("<s2>", {})) == "&lt;s2&gt;"
    assert str(stage_label(None, None)) == "—"
    line = summarise("DecisionMade", {"outcome": "advance", "rule_id": "r", "rule_set_version": 1, "mode": "live",
                                      "stage_id": "s1"}, {"s1": "Onsite"})
    assert line.endswith("in stage Onsite")

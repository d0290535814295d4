"""Contract tests against Ashby's API description (tests/contracts/ashby/): every request our code
sends, every answer the sandbox gives and every webhook it delivers matches the published schemas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.envelope import Envelope
from executor.handlers import Attempt, _carry_out
from ingest.ashby_client import AshbyClient, AshbyError
from ingest.poller import AshbyPoller
from ingest.polling import Decay
from sandbox.ashby import sandbox_id
from sandbox.scenarios import demo_scenario, stage, technical_schedule
from support.ashby_spec import request_problems, response_problems, webhook_problems

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


class Sink:
    def __init__(self) -> None:
        self.events: list[Envelope] = []

    async def publish_event(self, envelope: Envelope):
        self.events.append(envelope)
        return len(self.events), False


def command(kind: str, app_id: str, **payload) -> Envelope:
    return Envelope(event_id=f"cmd-{kind}-{app_id}", event_type=kind, key=app_id, occurred_at=NOW, recorded_at=NOW,
                    source="evaluator", payload={"command_id": f"cmd-{kind}-{app_id}", "application_id": app_id,
                                                 "from_stage_id": stage("technical"), **payload})


@pytest.fixture
async def exercised(sandbox_ashby):
    """Drive the client the way the service does: metadata and feedback polls, snapshots, errors,
    an advance and an archive."""
    ids = sandbox_ashby.load_scenario(demo_scenario())
    strong, weak = ids["applications"]["strong"], ids["applications"]["weak"]
    sandbox_ashby.webhook_url = "http://127.0.0.1:9/unreachable"  # deliveries are recorded either way
    sandbox_ashby.ping()
    for app in (strong, weak):
        sandbox_ashby.load_scenario({"schedules": [technical_schedule(f"s-{app}", app, "WaitingOnFeedback")]})
        for user in ("ivan", "iris"):
            sandbox_ashby.submit_feedback(f"{app}-{user}", app, "technical", user,
                                          {"overall_recommendation": 4 if app == strong else 2, "would_hire": True})
    client = AshbyClient(sandbox_ashby.base_url, sandbox_ashby.api_key)
    sink = Sink()
    poller = AshbyPoller(client, sink, pool=None, feedback_interval_s=60,  # type: ignore[arg-type]
                         decay=Decay.of_seconds(1, 4, 60), metadata_interval_s=60)
    try:
        records = []
        for endpoint, body in [("job.list", {}), ("feedbackFormDefinition.list", {}), ("interview.list", {}),
                               ("user.list", {}), ("archiveReason.list", {}), ("interviewPlan.list",
                                                                               {"includeArchived": True})]:
            records += await poller._all(endpoint, body)
        await poller._all("interviewStage.list", {"interviewPlanId": sandbox_id("plan", "eng")})
        await client.sync("applicationFeedback.list", {}, None)
        await poller._all("applicationFeedback.list", {"applicationId": strong})
        await client.call("interviewSchedule.list", {"applicationId": strong})
        for cmd in (command("AdvanceApplication", strong, to_stage_id=stage("onsite"), decision_id="d1",
                            rule_set_version=1, rule_id="r"),
                    command("ArchiveApplication", weak, archive_reason_id=sandbox_id("archive-reason", "not-a-fit"),
                            archive_email_template_id="tmpl-1")):
            attempt = Attempt(cmd, 1, "contract-test", None)
            assert await _carry_out(client, sink, attempt, _lease_is_ours, False,  # type: ignore[arg-type]
                                    lambda: NOW)
        # a candidate merge and a job change, as a recruiter does them (issue 21)
        sandbox_ashby.load_scenario({"applications": [{"key": "weak-twin", "candidate": "Wes Weak", "job": "backend",
                                                       "stage": "technical"}]})
        await client.call("candidate.info", {"id": sandbox_id("candidate", "weak-twin")})
        sandbox_ashby.merge_candidates("weak-twin", "weak")
        merged = await client.call("candidate.info", {"id": sandbox_id("candidate", "weak")})
        assert merged["applicationIds"] == [weak]
        with pytest.raises(AshbyError):
            await client.call("application.info", {"applicationId": sandbox_id("application", "weak-twin")})
        sandbox_ashby.change_job(strong, "backend", "onsite")
        with pytest.raises(AshbyError):
            await client.call("application.changeStage", {"applicationId": weak, "interviewStageId":
                                                          stage("archived")})  # no archive reason
        with pytest.raises(AshbyError):
            await client.call("application.info", {"applicationId": sandbox_id("application", "nobody")})
    finally:
        await client.aclose()
    assert sandbox_ashby.data["applications"][strong]["stageId"] == stage("onsite")
    assert sandbox_ashby.data["applications"][weak]["status"] == "Archived"
    return sandbox_ashby


async def test_every_request_the_client_sent_matches_the_request_schema(exercised):
    endpoints = {c["endpoint"] for c in exercised.calls}
    assert {"application.info", "application.changeStage", "applicationFeedback.list", "interviewStage.list",
            "job.list", "user.list", "archiveReason.list"} <= endpoints
    problems = {c["endpoint"]: request_problems(c["endpoint"], c["body"]) for c in exercised.calls}
    assert {e: p for e, p in problems.items() if p} == {}


async def test_every_sandbox_answer_matches_the_response_schema(exercised):
    answered = [c for c in exercised.calls if "response" in c]
    assert any(c["response"]["success"] is False for c in answered)  # error envelopes are checked too
    problems = {f"{c['endpoint']}#{i}": response_problems(c["endpoint"], c["response"])
                for i, c in enumerate(answered)}
    assert {k: p for k, p in problems.items() if p} == {}


async def test_every_webhook_the_sandbox_sends_matches_the_webhook_schema(exercised):
    actions = {d.action for d in exercised.deliveries}
    assert actions == {"ping", "interviewScheduleUpdate", "candidateStageChange", "candidateMerge", "applicationUpdate"}
    problems = {f"{d.action}#{i}": webhook_problems(d.summary()["payload"]) for i, d in enumerate(exercised.deliveries)}
    assert {k: p for k, p in problems.items() if p} == {}


def test_the_validators_do_reject_what_breaks_the_contract():
    assert request_problems("application.changeStage", {"applicationId": "not-a-uuid"})
    assert response_problems("application.info", {"success": True, "results": {"id": "x"}})
    assert webhook_problems({"action": "interviewScheduleUpdate", "data": {"interviewSchedule": {"id": 5}}})


async def _lease_is_ours() -> None:
    """No lease in this contract test: the write may always start."""

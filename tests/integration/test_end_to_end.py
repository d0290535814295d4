"""The whole pipeline with real NATS + Postgres, sandbox Ashby and sandbox Slack: webhooks and polled
feedback → decisions → changes in Ashby and messages in Slack, each exactly once, and explained."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import nats
import orjson

from contracts import subjects
from sandbox.ashby import sandbox_id
from sandbox.scenarios import RECRUITER_EMAIL, demo_rules, demo_scenario, stage, technical_schedule
from support import activate, eventually, running_service, stream_messages

RECRUITER_SLACK_ID = "U0RITA"
ADMIN_CHANNEL = "#auto-advance-admin"
NOT_A_FIT = sandbox_id("archive-reason", "not-a-fit")


@asynccontextmanager
async def pipeline(infra, ashby, slack, *, rules: dict | None = None, roles: list[str] | None = None,
                   preload: bool = True, **settings):
    """The service with every role, wired to the sandboxes, with the demo scenario and rules loaded.
    Archives are carried out at once (`archive_delay=0`) unless a test asks for an undo window."""
    settings.setdefault("archive_delay", 0)
    ids = ashby.load_scenario(demo_scenario()) if preload else {}
    slack.add_user(RECRUITER_SLACK_ID, RECRUITER_EMAIL, "Rita Recruiter")
    async with running_service(infra, roles=roles, ashby_api_url=ashby.base_url, ashby_api_key=ashby.api_key,
                               slack_api_url=slack.base_url, slack_bot_token=slack.token,
                               slack_signing_secret=slack.signing_secret, admin_slack_channel=ADMIN_CHANNEL,
                               metadata_poll_interval_s=3600, feedback_poll_interval_s=1, **settings) as svc:
        ashby.webhook_url = f"{svc.client.base_url}/webhooks/ashby"
        ashby.webhook_secret = svc.settings.secret("ashby_webhook_secret")
        if rules is not None:
            await activate(svc, rules)
        svc.ids = ids
        yield svc


def interview(ashby, key: str, scores: dict[str, int]) -> str:
    """Both interviewers submit their scores, then the schedule reaches WaitingOnFeedback."""
    app_id = sandbox_id("application", key)
    ashby.load_scenario({"schedules": [technical_schedule(f"s-{key}", app_id, "Scheduled")]})
    for user, score in scores.items():
        ashby.submit_feedback(f"{key}-{user}", app_id, "technical", user, {"overall_recommendation": score})
    ashby.set_schedule_status(f"s-{key}", "WaitingOnFeedback")
    return app_id


def stage_calls(ashby, app_id: str) -> list[dict]:
    return [c for c in ashby.calls if c["endpoint"] == "application.changeStage"
            and (c["body"] or {}).get("applicationId") == app_id]


async def events_of(svc, app_id: str) -> list[dict]:
    resp = await svc.client.get("/api/events", params={"key": app_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["events"] if isinstance(resp.json(), dict) else resp.json()


async def event_types(svc, app_id: str) -> list[str]:
    return [e["event_type"] for e in await events_of(svc, app_id)]


async def stream(infra, name: str) -> list:
    try:
        return await stream_messages(infra.nats_url, name)
    except nats.js.errors.NotFoundError:
        return []


async def consumers_idle(svc) -> bool:
    js = svc.services.nc.jetstream()
    for name in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM):
        for info in await js.consumers_info(name):
            if info.num_pending or info.num_ack_pending:
                return False
    return True


async def test_strong_candidate_is_advanced_once_even_when_the_command_is_delivered_twice(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        app_id = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 3})
        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=20,
                         message="the strong candidate was not advanced")
        await eventually(lambda: _has(svc, app_id, "CommandSucceeded"), message="no CommandSucceeded")

        [(subject, _, body)] = [m for m in await stream(infra, subjects.COMMANDS_STREAM)
                                if m[2]["event_type"] == "AdvanceApplication"]
        await svc.services.nc.jetstream().publish(subject, orjson.dumps(body),  # a redelivery past dedupe
                                                  headers={"Nats-Msg-Id": str(uuid.uuid4())})
        await eventually(lambda: consumers_idle(svc), message="the executor did not settle")
        assert len(stage_calls(sandbox_ashby, app_id)) == 1
        assert [c["stage_id"] for c in sandbox_ashby.stage_changes] == [stage("onsite")]

        story = await event_types(svc, app_id)
        for earlier, later in [("InterviewScheduleUpdated", "FeedbackSubmitted"),
                               ("ApplicationSnapshotted", "DecisionMade"), ("FeedbackSubmitted", "DecisionMade"),
                               ("DecisionMade", "CommandSucceeded")]:
            assert earlier in story and later in story and story.index(earlier) < story.index(later), story
        assert story.count("CommandSucceeded") == 1


async def test_weak_candidate_is_proposed_in_slack_and_archived_once_on_a_double_click(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        app_id = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        [proposal] = await eventually(lambda: _async(sandbox_slack.messages), timeout=20,
                                      message="no Slack proposal")
        assert proposal["channel"] == sandbox_slack.dm_id(RECRUITER_SLACK_ID)
        text = orjson.dumps(proposal).decode()
        assert "Wes Weak" in text and "Backend Engineer" in text and "@" not in text.replace(
            "<@", "")  # no email in Slack
        assert sandbox_ashby.stage("weak")["id"] == stage("technical")  # nothing happens before the click

        first = await sandbox_slack.simulate_click(f"{svc.client.base_url}/slack/interactions", proposal, "archive",
                                                   RECRUITER_SLACK_ID)
        second = await sandbox_slack.simulate_click(f"{svc.client.base_url}/slack/interactions", proposal, "archive",
                                                    RECRUITER_SLACK_ID)
        assert first.status_code == 200 and second.status_code == 200
        await eventually(lambda: _async(sandbox_ashby.stage("weak")["type"] == "Archived"), timeout=20,
                         message="the weak candidate was not archived")
        await eventually(lambda: consumers_idle(svc), message="the pipeline did not settle")
        [call] = stage_calls(sandbox_ashby, app_id)
        assert call["body"]["archiveReasonId"] == NOT_A_FIT
        assert sandbox_ashby.data["applications"][app_id]["archiveReasonId"] == NOT_A_FIT
        await eventually(lambda: _async(sandbox_slack.updates), message="the Slack message was not updated")
        story = await event_types(svc, app_id)
        assert story.count("CommandSucceeded") == 1 and story.count("ArchiveApplication") == 0
        [told] = await eventually(lambda: _async(sandbox_slack.ephemerals), message="the second click was not answered")
        assert told["user"] == RECRUITER_SLACK_ID and "changed nothing" in told["text"]
        assert story.index("DecisionMade") < story.index("RecruiterDecided") < story.index("CommandSucceeded")
        assert "SlackMessagePosted" in story


async def test_a_candidate_moved_by_hand_before_the_command_runs_is_skipped(infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(),
                        roles=["projectors", "evaluator", "poller", "notifier"]) as svc:
        app_id = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _command(infra, "AdvanceApplication"), timeout=20, message="no advance command")
        sandbox_ashby.webhook_url = None  # the recruiter's move reaches Ashby only
        sandbox_ashby.move(app_id, "offer")
    async with running_service(infra, roles=["executor", "projectors"], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key) as svc:
        await eventually(lambda: _has(svc, app_id, "CommandSkipped"), timeout=20, message="no CommandSkipped")
        assert stage_calls(sandbox_ashby, app_id) == []
        assert sandbox_ashby.stage("strong")["id"] == stage("offer")


async def test_a_5xx_on_a_write_is_sent_again_only_after_a_read_shows_it_did_not_land(
        infra, sandbox_ashby, sandbox_slack):
    sandbox_ashby.fail_next("application.changeStage", status=503, times=2)
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), ashby_timeout_s=0.5) as svc:
        app_id = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _has(svc, app_id, "CommandSucceeded"), timeout=30, message="not advanced")
        assert [c.get("status") for c in stage_calls(sandbox_ashby, app_id)] == [503, 503, 200]
        assert [c["stage_id"] for c in sandbox_ashby.stage_changes] == [stage("onsite")]
        story = [e for e in await events_of(svc, app_id) if e["event_type"].startswith("Command")]
        assert [e["event_type"] for e in story] == [
            "CommandAttempted", "CommandOutcomeUnknown", "CommandAttempted", "CommandReconciled",
            "CommandOutcomeUnknown", "CommandAttempted", "CommandReconciled", "CommandSucceeded"]
        assert [e["payload"]["verdict"] for e in story if e["event_type"] == "CommandReconciled"] == [
            "not_applied", "not_applied"]
        assert [e["payload"]["attempt"] for e in story if e["event_type"] == "CommandAttempted"] == [1, 2, 3]


async def test_ashby_4xx_fails_the_command_to_the_dlq_and_alerts_the_admins(infra, sandbox_ashby, sandbox_slack):
    sandbox_ashby.fail_next("application.changeStage", code="invalid_input", times=5)
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        app_id = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _has(svc, app_id, "CommandFailed"), timeout=20, message="no CommandFailed")
        dlq = await eventually(lambda: stream(infra, subjects.DLQ_STREAM), message="nothing in the DLQ")
        assert any(m[2].get("event_type") == "AdvanceApplication" or b"AdvanceApplication" in orjson.dumps(m[2])
                   for m in dlq)
        admin = sandbox_slack.channel_id(ADMIN_CHANNEL)
        alerts = await eventually(lambda: _async([m for m in sandbox_slack.messages if m["channel"] == admin]),
                                  message="no admin alert")
        assert "invalid_input" in orjson.dumps(alerts).decode()
        assert len(stage_calls(sandbox_ashby, app_id)) == 1  # a permanent error is not retried
        assert sandbox_ashby.stage("strong")["id"] == stage("technical")


async def test_dry_run_and_shadow_rules_record_decisions_but_call_nothing(infra, sandbox_ashby, sandbox_slack):
    for rules in (demo_rules(dry_run=True), demo_rules(mode="shadow")):
        sandbox_ashby.reset()
        sandbox_slack.reset()
        async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=rules) as svc:
            strong = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
            weak = interview(sandbox_ashby, "weak", {"ivan": 1, "iris": 2})
            for app_id in (strong, weak):
                await eventually(lambda app_id=app_id: _has(svc, app_id, "DecisionMade"), timeout=20,
                                 message="no decision recorded")
            await eventually(lambda: consumers_idle(svc), message="the pipeline did not settle")
            decisions = (await svc.client.get("/api/decisions")).json()
            assert {d["outcome"] for d in decisions} >= {"advance"}
            assert [c for c in sandbox_ashby.calls if c["endpoint"] == "application.changeStage"] == []
            assert sandbox_slack.messages == []
        await _reset_infra(infra)


async def _reset_infra(infra) -> None:
    """A fresh database and streams for the next round of the same test."""
    from support import fresh_database, reset_streams

    await reset_streams(infra.nats_url)
    base = infra.database_url.rpartition("/")[0]
    infra.database_url = await fresh_database(f"{base}/postgres")


async def _has(svc, app_id: str, event_type: str) -> bool:
    return event_type in await event_types(svc, app_id)


async def _command(infra, event_type: str):
    return [m for m in await stream(infra, subjects.COMMANDS_STREAM) if m[2]["event_type"] == event_type]


async def _async(value):
    return value


async def test_a_plan_created_after_start_is_synced_when_its_first_application_shows_up(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), preload=False):
        await eventually(lambda: _metadata_synced_once(sandbox_ashby), message="the first metadata sync did not run")
        sandbox_ashby.load_scenario(demo_scenario())  # new job, plan and candidates, long before the next sync
        interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=20,
                         message="the plan was not synced in time to advance")


async def _metadata_synced_once(ashby) -> bool:
    return any(c["endpoint"] == "interviewPlan.list" for c in ashby.calls)

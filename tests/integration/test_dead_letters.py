"""Dead letters are never silent: a command whose retries are spent ends as `CommandFailed` on the
application's story, `failed` in /api/decisions and one actionable admin alert; any dead letter
makes /health degraded; `autoadvance dlq list|show|retry` inspects and re-sends them."""

from __future__ import annotations

import asyncio

import nats
import orjson
from test_end_to_end import ADMIN_CHANNEL, _async, _has, event_types, interview, pipeline, stage_calls

from contracts import subjects
from runtime.cli import main
from sandbox.scenarios import demo_rules, stage
from support import ADMIN_TOKEN, eventually

FAST_ASHBY = {"ashby_timeout_s": 0.5, "ashby_max_retries": 0, "ashby_backoff_max_s": 0.1,
              "ashby_retry_after_max_s": 0.1}
"""A lost write's settle time of a second, so the consumer's few deliveries are spent quickly."""


def _admin_messages(slack) -> list[dict]:
    admin = slack.channel_id(ADMIN_CHANNEL)
    return [m for m in slack.messages if m["channel"] == admin]


async def _health(svc) -> dict:
    return (await svc.client.get("/health")).json()


async def cli(monkeypatch, svc, *argv: str) -> int:
    monkeypatch.setenv("ADMIN_API_TOKEN", ADMIN_TOKEN)
    return await asyncio.to_thread(main, [*argv, "--url", str(svc.client.base_url)])


async def test_ashby_5xx_until_retries_are_spent_fails_the_command_visibly_and_alerts_once(
        infra, sandbox_ashby, sandbox_slack):
    sandbox_ashby.fail_next("application.changeStage", status=503, times=3)
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), consumer_max_deliver=3, **FAST_ASHBY) as svc:
        app_id = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _has(svc, app_id, "CommandFailed"), timeout=90, message="no CommandFailed")
        assert stage_calls(sandbox_ashby, app_id)  # tried, never applied
        assert sandbox_ashby.stage("strong")["id"] == stage("technical")

        async def failed_decision():
            decisions = (await svc.client.get("/api/decisions", params={"application_id": app_id})).json()
            return [d for d in decisions if d["outcome"] == "advance" and d["status"] == "failed"]

        [decision] = await eventually(failed_decision, timeout=30, message="the decision does not show as failed")
        assert "max deliveries reached" in decision["status_reason"]

        [alert] = await eventually(lambda: _async(_admin_messages(sandbox_slack)), timeout=30,
                                   message="no admin alert")
        text = orjson.dumps(alert).decode()
        for needed in ("Sam Strong", "Backend Engineer", "Technical Interview", "Onsite", "advance",
                       "max deliveries reached", f"applicationId={app_id}", "autoadvance dlq retry"):
            assert needed in text, (needed, text)
        assert "@example.com" not in text

        health = await _health(svc)
        assert health["status"] == "degraded" and health["dead_letters"] == 1
        await eventually(lambda: _async(len(_admin_messages(sandbox_slack)) == 1), message="alerts")
        assert (await event_types(svc, app_id)).count("CommandFailed") == 1


async def test_dlq_cli_lists_shows_and_retries_a_dead_letter_until_it_succeeds(
        infra, sandbox_ashby, sandbox_slack, monkeypatch, capsys):
    sandbox_ashby.fail_next("application.changeStage", status=503, times=1000)
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), consumer_max_deliver=2, **FAST_ASHBY) as svc:
        app_id = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _has(svc, app_id, "CommandFailed"), timeout=90, message="no CommandFailed")
        capsys.readouterr()

        assert await cli(monkeypatch, svc, "dlq", "list") == 0
        listing = capsys.readouterr().out
        assert "1 open dead letter" in listing and "AdvanceApplication" in listing and "#1" in listing
        assert await cli(monkeypatch, svc, "dlq", "show", "1") == 0
        shown = orjson.loads(capsys.readouterr().out)
        assert shown["body"]["payload"]["application_id"] == app_id and "max deliveries" in shown["reason"]
        assert await cli(monkeypatch, svc, "dlq", "show", "99") == 1

        sandbox_ashby._faults.clear()  # Ashby is healthy again
        assert await cli(monkeypatch, svc, "dlq", "retry", "1") == 0
        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=20,
                         message="the retried command did not advance the candidate")
        await eventually(lambda: _has(svc, app_id, "CommandSucceeded"), message="no CommandSucceeded")
        assert await cli(monkeypatch, svc, "dlq", "retry", "1") == 1  # once only
        assert "already retried" in capsys.readouterr().err
        health = await _health(svc)
        assert health["status"] == "ok" and health["dead_letters"] == 0
        decisions = (await svc.client.get("/api/decisions", params={"application_id": app_id})).json()
        assert [d["status"] for d in decisions if d["outcome"] == "advance"] == ["succeeded"]


async def test_an_unreadable_event_makes_health_degraded_and_alerts_the_admins_once(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        assert (await _health(svc))["status"] == "ok"
        nc = await nats.connect(infra.nats_url)
        try:
            await nc.jetstream().publish("ev.ashby.InterviewScheduleUpdated.bad", b"not an envelope",
                                         headers={"Nats-Msg-Id": "poison-1"})
        finally:
            await nc.close()
        [alert] = await eventually(lambda: _async(_admin_messages(sandbox_slack)), timeout=30,
                                   message="no admin alert")
        assert "dead-letter queue" in orjson.dumps(alert).decode()
        health = await eventually(lambda: _degraded(svc), message="health is not degraded")
        assert health["dead_letters"] >= 1
        dlq = await svc.client.get("/api/dlq")
        assert {d["subject"] for d in dlq.json()["dead_letters"]} == {"ev.ashby.InterviewScheduleUpdated.bad"}
        js = svc.services.nc.jetstream()
        await eventually(lambda: _idle(js), message="consumers did not settle")
        assert len(_admin_messages(sandbox_slack)) == 1  # several consumers gave it up: one alert


async def _degraded(svc) -> dict | None:
    health = await _health(svc)
    return health if health["status"] == "degraded" else None


async def _idle(js) -> bool:
    for name in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM):
        for info in await js.consumers_info(name):
            if info.num_pending or info.num_ack_pending:
                return False
    return True

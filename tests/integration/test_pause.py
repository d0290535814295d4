"""The pause switch on real NATS + Postgres with sandbox Ashby and Slack: while paused decisions are
recorded but no Ashby write and no Slack message happens, the held commands spend no delivery;
after resume each effect happens exactly once. Viewers cannot flip it."""

from __future__ import annotations

import asyncio
import time

import httpx
from test_end_to_end import _async, consumers_idle, event_types, interview, pipeline, stage_calls, stream

from contracts import subjects
from sandbox.scenarios import demo_rules, stage
from support import ADMIN_TOKEN, eventually, running_service

VIEWER = "viewer-token-for-pause"


async def _held(svc, durable: str, stream_name: str) -> bool:
    """The consumer has handed a message out that is not acked yet: the command waits in it."""
    info = await svc.services.nc.jetstream().consumer_info(stream_name, durable)
    return info.num_ack_pending >= 1 and info.num_pending == 0


async def _stays_without_effects(sandbox_ashby, sandbox_slack, app_ids: list[str], seconds: float) -> None:
    """A negative can only be observed over a window: fail as soon as an effect shows up in it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not [a for a in app_ids if stage_calls(sandbox_ashby, a)], "Ashby was changed while paused"
        assert not sandbox_slack.messages, "a Slack message was posted while paused"
        await asyncio.sleep(0.1)


async def test_while_paused_decisions_are_recorded_and_nothing_reaches_ashby_or_slack_until_resume(
        infra, sandbox_ashby, sandbox_slack):
    # ack_wait 2 s and two deliveries: a held command that were redelivered or counted would be dead-lettered
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), consumer_ack_wait_s=2.0,
                        consumer_max_deliver=2, viewer_api_token=VIEWER) as svc:
        paused = await svc.client.post("/api/pause", json={"reason": "checking the new rules", "by": "ops test"})
        assert paused.status_code == 200, paused.text
        assert paused.json()["paused"] is True and paused.json()["changed"] is True
        assert paused.json()["by"] == "ops test" and paused.json()["reason"] == "checking the new rules"
        again = await svc.client.post("/api/pause", json={"reason": "twice"})
        assert again.json()["changed"] is False and again.json()["reason"] == "checking the new rules"
        health = (await svc.client.get("/health")).json()
        assert health["effects"]["paused"] is True and health["effects"]["by"] == "ops test"

        strong = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 3})
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        for app_id in (strong, weak):
            await eventually(lambda app_id=app_id: _has(svc, app_id, "DecisionMade"), timeout=30,
                             message=f"no decision for {app_id} while paused")
        await eventually(lambda: _held(svc, "executor-ashby-v1", subjects.COMMANDS_STREAM), timeout=20,
                         message="the advance command did not reach the executor")
        await eventually(lambda: _held(svc, "notifier-slack-v1", subjects.COMMANDS_STREAM), timeout=20,
                         message="the rejection proposal did not reach the notifier")
        await _stays_without_effects(sandbox_ashby, sandbox_slack, [strong, weak], seconds=5.0)  # > 2 ack waits
        assert "CommandAttempted" not in await event_types(svc, strong)  # held before the executor ran at all
        js = svc.services.nc.jetstream()
        for durable in ("executor-ashby-v1", "notifier-slack-v1"):
            info = await js.consumer_info(subjects.COMMANDS_STREAM, durable)
            assert info.num_redelivered == 0, (durable, info)
        assert await stream(infra, subjects.DLQ_STREAM) == []

        viewer = await svc.client.post("/api/resume", headers={"Authorization": f"Bearer {VIEWER}"})
        assert viewer.status_code == 403
        resumed = await svc.client.post("/api/resume", json={"reason": "rules look right"})
        assert resumed.status_code == 200 and resumed.json()["paused"] is False and resumed.json()["changed"] is True

        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=30,
                         message="the strong candidate was not advanced after resume")
        await eventually(lambda: _async(len(sandbox_slack.messages) == 1), timeout=30,
                         message="the rejection proposal was not posted after resume")
        await eventually(lambda: consumers_idle(svc), timeout=30, message="the pipeline did not settle")
        assert len(stage_calls(sandbox_ashby, strong)) == 1 and stage_calls(sandbox_ashby, weak) == []
        assert len(sandbox_slack.messages) == 1
        assert (await event_types(svc, strong)).count("CommandSucceeded") == 1
        assert await stream(infra, subjects.DLQ_STREAM) == []

        async def switch_events() -> list[dict]:
            events = (await svc.client.get("/api/events", params={"key": "effects"})).json()["events"]
            return events if len(events) == 2 else []

        first, second = await eventually(switch_events, message="the pause and resume are not in the log")
        assert (first["event_type"], first["payload"]["paused_by"]) == ("EffectsPaused", "ops test")
        assert (second["event_type"], second["payload"]["reason"]) == ("EffectsResumed", "rules look right")
        assert (await svc.client.get("/api/pause")).json()["paused"] is False


async def test_the_console_pauses_for_an_admin_shows_a_banner_and_refuses_a_viewer(infra):
    async with pipeline_free(infra) as svc:
        async with httpx.AsyncClient(base_url=str(svc.client.base_url)) as viewer:
            await viewer.post("/ui/login", data={"token": VIEWER})
            page = (await viewer.get("/ui/health")).text
            assert "Pause all effects" in page and "paused-banner" not in page
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            refused = await viewer.post("/ui/pause", data={"csrf_token": token, "reason": "x"})
            assert refused.status_code == 403 and "needs the admin role" in refused.text
        assert (await svc.client.get("/api/pause")).json()["paused"] is False

        async with httpx.AsyncClient(base_url=str(svc.client.base_url)) as admin:
            await admin.post("/ui/login", data={"token": ADMIN_TOKEN})
            page = (await admin.get("/ui/rules")).text
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            assert (await admin.post("/ui/pause", data={"reason": "no csrf"})).status_code == 403
            done = await admin.post("/ui/pause", data={"csrf_token": token, "reason": "console check",
                                                       "next": "/ui/pending"})
            assert done.status_code == 303 and done.headers["location"] == "/ui/pending"
            for path in ("/ui/", "/ui/pending", "/ui/rules", "/ui/health"):
                text = (await admin.get(path)).text
                assert "Effects are paused" in text and "console check" in text, path
            state = (await svc.client.get("/api/pause")).json()
            assert state["paused"] is True and state["by"] == "console (admin)"
            resumed = await admin.post("/ui/resume", data={"csrf_token": token})
            assert resumed.status_code == 303
            assert "Effects are paused" not in (await admin.get("/ui/")).text


async def test_a_pause_that_lands_while_the_executor_reads_stops_the_write_and_it_runs_once_after_resume(
        infra, sandbox_ashby, sandbox_slack):
    from runtime.workers import create_worker

    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(),
                        roles=["projectors", "evaluator", "poller", "notifier"]) as svc:
        strong = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        await eventually(lambda: _has(svc, strong, "DecisionMade"), timeout=30, message="no decision")
        sandbox_ashby.fail_next("application.info", delay=3.0, times=0)  # the executor's read takes 3 s
        executor = create_worker(["executor"], svc.services)
        await executor.start()
        try:
            await eventually(lambda: _has(svc, strong, "CommandAttempted"), timeout=20,
                             message="the executor did not start on the command")
            assert (await svc.client.post("/api/pause", json={"reason": "mid-way"})).json()["paused"] is True
            reads_done = lambda: _async(any(c["endpoint"] == "application.info" and "status" in c  # noqa: E731
                                            for c in sandbox_ashby.calls
                                            if (c["body"] or {}).get("applicationId") == strong))
            await eventually(reads_done, timeout=20, message="the executor's read did not finish")
            sandbox_ashby.clear_faults()
            await _stays_without_effects(sandbox_ashby, sandbox_slack, [strong], seconds=3.0)
            assert (await svc.client.post("/api/resume")).json()["paused"] is False
            await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=30,
                             message="the command did not run after resume")
            await eventually(lambda: consumers_idle(svc), timeout=30, message="the executor did not settle")
            assert len(stage_calls(sandbox_ashby, strong)) == 1
            story = await event_types(svc, strong)
            assert story.count("CommandAttempted") == 2 and story.count("CommandSucceeded") == 1, story
            assert "CommandOutcomeUnknown" not in story
        finally:
            await executor.stop()


def pipeline_free(infra):
    return running_service(infra, roles=["projectors"], viewer_api_token=VIEWER)


async def _has(svc, app_id: str, event_type: str) -> bool:
    return event_type in await event_types(svc, app_id)


async def test_the_cli_pauses_reports_and_resumes_through_the_api(infra, capsys, monkeypatch):
    from runtime.cli import main

    monkeypatch.setenv("ADMIN_API_TOKEN", ADMIN_TOKEN)
    async with running_service(infra, roles=["projectors"]) as svc:
        url = str(svc.client.base_url)

        async def cli(*argv: str) -> int:
            return await asyncio.to_thread(main, [*argv, "--url", url])

        assert await cli("pause", "--reason", "cli check", "--by", "ops") == 0
        assert "effects are PAUSED" in capsys.readouterr().out
        state = (await svc.client.get("/api/pause")).json()
        assert (state["paused"], state["by"], state["reason"]) == (True, "ops", "cli check")
        assert await cli("pause", "--status") == 0
        assert "PAUSED" in capsys.readouterr().out and (await svc.client.get("/api/pause")).json()["paused"]
        assert await cli("resume") == 0
        assert "effects are running" in capsys.readouterr().out
        assert (await svc.client.get("/api/pause")).json()["paused"] is False
        monkeypatch.setenv("ADMIN_API_TOKEN", "wrong")
        assert await cli("pause") == 1
        assert "HTTP 401" in capsys.readouterr().err
        assert (await svc.client.get("/api/pause")).json()["paused"] is False
        for body in (b"[1]", b"{not json", b'{"reason": 5}', b'{"by": "' + b"x" * 501 + b'"}'):
            refused = await svc.client.post("/api/pause", content=body, headers={"Content-Type": "application/json"})
            assert refused.status_code == 400 and refused.json()["detail"], body
        assert (await svc.client.get("/api/pause")).json()["paused"] is False

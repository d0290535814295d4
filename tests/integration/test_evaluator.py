"""The live evaluator over real JetStream + Postgres: decisions, commands via the outbox, timers."""

from __future__ import annotations

from contracts import subjects
from support import activate, eventually, publish, running_service, scenario, stream_messages


async def commands(infra) -> list[tuple[str, dict, dict]]:
    try:
        return await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)
    except Exception:  # noqa: BLE001 - stream not there yet
        return []


async def setup_app(svc, app: str, doc: dict) -> None:
    await activate(svc, doc)
    await publish(svc, *scenario.catalog_events(), scenario.snapshot(app), scenario.schedule(app))


async def test_all_interviewers_pass_gives_one_advance_command(infra):
    async with running_service(infra, roles=["evaluator"]) as svc:
        await setup_app(svc, "app-pass", scenario.rules())
        await publish(svc, scenario.feedback("app-pass", "u1", {"score": 4}))
        await eventually(lambda: _waiting_only_for(svc, "app-pass", "u2"),
                         message="u1 submitted: only u2 is still to submit")
        await publish(svc, scenario.feedback("app-pass", "u2", "3"))
        cmds = await eventually(lambda: commands(infra), message="no command")
        [(subject, headers, body)] = cmds
        assert subject == "cmd.ashby.advance.app-pass"
        assert body["payload"]["to_stage_id"] == "stage-onsite" and body["payload"]["from_stage_id"] == "stage-screen"
        assert headers["Nats-Msg-Id"] == body["event_id"]
        [decision] = (await svc.client.get("/api/decisions", params={"application_id": "app-pass"})).json()
        assert decision["outcome"] == "advance"
        reqs = decision["explanation"]["requirements"]
        assert reqs and all(r["passed"] for r in reqs)
        # more facts about the decided stage change nothing
        await publish(svc, scenario.feedback("app-pass", "u3", {"score": 1}))
        await svc.client.post("/api/applications/app-pass/evaluate")
        await eventually(lambda: _decided_event_in_log(infra, "app-pass"))
        assert len(await commands(infra)) == 1


async def _decided_event_in_log(infra, app: str) -> bool:
    msgs = await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
    return any(s == f"ev.evaluator.DecisionMade.{app}" for s, _, _ in msgs)


async def test_one_failing_interviewer_gives_one_rejection_proposal(infra):
    async with running_service(infra, roles=["evaluator"]) as svc:
        await setup_app(svc, "app-fail", scenario.rules())
        await publish(svc, scenario.feedback("app-fail", "u1", {"score": 4}),
                      scenario.feedback("app-fail", "u2", {"score": 1}))
        [(subject, _, body)] = await eventually(lambda: commands(infra), message="no command")
        assert subject == "cmd.slack.propose_rejection.app-fail"
        assert body["payload"]["archive_reason_id"] == scenario.REASON
        assert any(not r["passed"] for r in body["payload"]["explanation"]["requirements"])


async def test_missing_feedback_waits_then_times_out_with_an_alert(infra):
    async with running_service(infra, roles=["evaluator"]) as svc:
        await setup_app(svc, "app-slow", scenario.rules(timeout="4s"))
        await publish(svc, scenario.feedback("app-slow", "u1", {"score": 4}))
        pending = await eventually(lambda: _waiting_only_for(svc, "app-slow", "u2"),
                                   message="u1 submitted: only u2 is still to submit")
        assert pending[0]["fire_at"] is not None
        [(subject, _, body)] = await eventually(lambda: commands(infra), timeout=20, message="no timeout alert")
        assert subject == "cmd.slack.alert.app-slow" and body["payload"]["kind"] == "rule_timeout"
        assert not any(s.startswith("cmd.slack.propose") for s, _, _ in await commands(infra))


async def _waiting_only_for(svc, app: str, interviewer: str):
    """The pending row once it waits for `interviewer`'s feedback and no one else's (the
    evaluator may first have seen the schedule without that feedback, or nothing yet)."""
    rows = await _pending(svc, app)
    waits = {w.get("interviewer_id") for w in rows[0]["waiting_for"] if w.get("kind") == "feedback"} if rows else set()
    return rows if waits == {interviewer} else None


async def _pending(svc, app: str):
    rows = (await svc.client.get("/api/pending", params={"application_id": app})).json()
    return rows if rows and rows[0]["waiting_for"] else None


async def test_the_quiet_period_is_a_durable_timer(infra):
    async with running_service(infra, roles=["evaluator"]) as svc:
        await setup_app(svc, "app-quiet", scenario.rules(quiet="2s"))
        await publish(svc, scenario.feedback("app-quiet", "u1", {"score": 4}),
                      scenario.feedback("app-quiet", "u2", {"score": 4}))
        pending = await eventually(lambda: _pending(svc, "app-quiet"))
        assert any(w["kind"] == "quiet_period" for w in pending[0]["waiting_for"])
        assert await commands(infra) == []
        [(subject, _, _)] = await eventually(lambda: commands(infra), timeout=20)
        assert subject == "cmd.ashby.advance.app-quiet"


async def test_a_shadow_rule_records_the_decision_and_issues_no_command(infra):
    async with running_service(infra, roles=["evaluator"]) as svc:
        await setup_app(svc, "app-shadow", scenario.rules(mode="shadow"))
        await publish(svc, scenario.feedback("app-shadow", "u1", {"score": 4}),
                      scenario.feedback("app-shadow", "u2", {"score": 4}))
        await eventually(lambda: _decided_event_in_log(infra, "app-shadow"))
        [decision] = (await svc.client.get("/api/decisions", params={"application_id": "app-shadow"})).json()
        assert decision["mode"] == "shadow" and decision["command_id"] is None and decision["status"] == "shadow"
        assert await commands(infra) == []


async def test_a_crash_between_commit_and_publish_publishes_the_command_once_after_restart(infra):
    async with running_service(infra, roles=["evaluator"], outbox_relay=False) as svc:
        await setup_app(svc, "app-crash", scenario.rules())
        await publish(svc, scenario.feedback("app-crash", "u1", {"score": 4}),
                      scenario.feedback("app-crash", "u2", {"score": 4}))
        await eventually(lambda: svc.fetchval("SELECT count(*) = 2 FROM outbox WHERE published_at IS NULL"))
        assert await commands(infra) == []
    async with running_service(infra, roles=["evaluator"]) as svc:
        await eventually(lambda: commands(infra), message="the outbox was not relayed after restart")
        await eventually(lambda: svc.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
        # a relay that dies after publishing but before marking publishes again: JetStream drops it
        await svc.fetchval("UPDATE outbox SET published_at = NULL RETURNING 1")
        await eventually(lambda: svc.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
        assert len(await commands(infra)) == 1


async def test_an_invalid_rule_set_is_refused_with_every_problem_located(infra):
    async with running_service(infra, roles=[]) as svc:
        doc = scenario.rules()
        doc["rules"][0]["requirements"][0]["operator"] = "=>"
        doc["rules"][0]["on_pass"] = {"action": "teleport"}
        resp = await svc.client.post("/api/rulesets", json=doc)
        assert resp.status_code == 400
        locations = [p["location"] for p in resp.json()["extra"]["problems"]]
        assert any("requirements[0].operator" in loc for loc in locations)
        assert any("on_pass" in loc for loc in locations)
        assert (await svc.client.get("/api/rulesets")).json()["active_version"] is None

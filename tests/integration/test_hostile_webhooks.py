"""Hostile but signed input: text PostgreSQL cannot store is normalised before the 2xx, so what
was acknowledged reaches `event_log` and the read models and nothing dead-letters."""

from __future__ import annotations

import orjson

from contracts import subjects
from support import eventually, running_service, schedule_payload, sign, stream_messages


async def _all_consumers_past(svc, seq: int) -> bool:
    rows = await svc.fetch("SELECT consumer, stream_seq FROM consumer_checkpoints")
    return {r["consumer"].split("-")[0] for r in rows} >= {"projectors", "evaluator"} and all(
        r["stream_seq"] >= seq for r in rows)


async def test_a_signed_webhook_with_nul_bytes_reaches_event_log_and_read_models_and_nothing_dead_letters(infra):
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        payload = schedule_payload("app-nul\u0000", webhook_action_id="wa-nul\u0000", status="Sched\u0000uled")
        payload["data"]["interviewSchedule"]["interviewEvents"][0]["location"] = "Room \u0000 1"
        payload["data"]["interviewSchedule"]["extra\u0000key"] = {"nested": ["a\u0000b"]}
        body = orjson.dumps(payload)
        assert b"\\u0000" in body
        resp = await svc.client.post("/webhooks/ashby", content=body,
                                     headers={"Content-Type": "application/json", "Ashby-Signature": sign(body)})
        assert resp.status_code == 200, resp.text
        event_id = resp.json()["event_id"]

        logged = await eventually(lambda: svc.fetch("SELECT stream_seq, key, payload FROM event_log WHERE event_id = $1",
                                                    event_id), message="the acknowledged webhook never reached event_log")
        assert logged[0]["key"] == "app-nul\ufffd"
        schedule = logged[0]["payload"]["schedule"]
        assert schedule["status"] == "Sched\ufffduled"
        assert schedule["extra\ufffdkey"] == {"nested": ["a\ufffdb"]}
        rows = await eventually(lambda: svc.fetch("SELECT status FROM interview_schedules WHERE application_id = $1",
                                                  "app-nul\ufffd"))
        assert rows[0]["status"] == "Sched\ufffduled"
        await eventually(lambda: _all_consumers_past(svc, logged[0]["stream_seq"]),
                         message="a consumer did not get past the event")
        assert await stream_messages(infra.nats_url, subjects.DLQ_STREAM) == []


async def test_a_webhook_with_a_lone_surrogate_is_refused_with_a_reason_and_nothing_is_stored(infra):
    async with running_service(infra, roles=[]) as svc:
        body = orjson.dumps(schedule_payload("app-sur")).replace(b'"Scheduled"', b'"\\ud800"')
        resp = await svc.client.post("/webhooks/ashby", content=body,
                                     headers={"Content-Type": "application/json", "Ashby-Signature": sign(body)})
        assert resp.status_code == 400
        assert "surrogate" in resp.json()["detail"]
        assert await stream_messages(infra.nats_url, subjects.EVENTS_STREAM) == []


async def test_a_rule_set_with_nul_and_a_lone_surrogate_is_activated_and_reaches_the_evaluator(infra):
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        text = '{"name": "bad \\u0000 name \\ud800", "rules": []}'
        resp = await svc.client.post("/api/rulesets", content=text.encode(), headers={"Content-Type": "application/json"})
        assert resp.status_code == 201, resp.text
        version = resp.json()["version"]

        async def live() -> bool:
            return (await svc.client.get("/api/rulesets")).json()["active_version"] == version

        await eventually(live, message="the rule set never became active")
        listed = (await svc.client.get("/api/rulesets")).json()["rulesets"][0]
        assert listed["document"]["name"] == "bad \ufffd name \ufffd"
        assert await stream_messages(infra.nats_url, subjects.DLQ_STREAM) == []

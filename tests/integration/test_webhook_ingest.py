"""Signed Ashby webhooks become events on JetStream, exactly once, or are refused with a reason."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from contracts import subjects
from runtime.embedded import free_port
from support import alive, eventually, healthy, running_service, schedule_payload, sign, stream_messages


async def _event_count(infra) -> int:
    return len(await stream_messages(infra.nats_url, subjects.EVENTS_STREAM))


async def test_a_signed_webhook_becomes_one_event_and_a_read_model_row(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        resp = await svc.post_webhook(schedule_payload("app-1", webhook_action_id="wa-1"))
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "stored"
        msgs = await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
        assert len(msgs) == 1
        subject, headers, body = msgs[0]
        assert subject == "ev.ashby.InterviewScheduleUpdated.app-1"
        assert headers["Nats-Msg-Id"] == body["event_id"] == resp.json()["event_id"]
        assert body["payload"]["schedule"]["applicationId"] == "app-1"
        row = await eventually(lambda: svc.fetch("SELECT * FROM interview_schedules WHERE application_id='app-1'"))
        assert row[0]["status"] == "Scheduled"
        view = (await svc.client.get("/api/applications/app-1")).json()
        assert view["schedules"][0]["events"][0]["feedback_required_from"] == ["user-1", "user-2"]


async def test_the_same_delivery_twice_is_accepted_and_stored_once(infra):
    async with running_service(infra, roles=[]) as svc:
        payload = schedule_payload("app-2", webhook_action_id="wa-2")
        first = await svc.post_webhook(payload)
        second = await svc.post_webhook(payload)
        assert (first.status_code, second.status_code) == (200, 200)
        assert second.json()["status"] == "duplicate"
        no_action_id = schedule_payload("app-3")
        assert (await svc.post_webhook(no_action_id)).status_code == 200
        assert (await svc.post_webhook(no_action_id)).json()["status"] == "duplicate"
        assert await _event_count(infra) == 2


async def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(infra):
    async with running_service(infra, roles=[]) as svc:
        payload = schedule_payload("app-4")
        assert (await svc.post_webhook(payload, secret="wrong-secret")).status_code == 401
        assert (await svc.post_webhook(payload, signature="")).status_code == 401
        assert (await svc.post_webhook(payload, signature="md5=abc")).status_code == 401
        assert await _event_count(infra) == 0


async def test_a_malformed_body_is_refused_with_a_reason_and_kept_for_inspection(infra):
    async with running_service(infra, roles=[]) as svc:
        bad_json = await svc.post_webhook_raw(b"{not json")
        assert bad_json.status_code == 400 and "JSON" in bad_json.json()["detail"]
        missing = schedule_payload("app-5")
        del missing["data"]["interviewSchedule"]["applicationId"]
        resp = await svc.post_webhook(missing)
        assert resp.status_code == 400
        assert "applicationId" in resp.json()["detail"]
        assert await _event_count(infra) == 0
        kept = await svc.fetch("SELECT reason, body FROM rejected_webhooks ORDER BY id")
        assert len(kept) == 2 and orjson.loads(kept[1]["body"])["action"] == "interviewScheduleUpdate"


async def test_a_ping_is_answered_and_not_stored(infra):
    async with running_service(infra, roles=[]) as svc:
        resp = await svc.post_webhook({"action": "ping", "data": {"webhookActionType": "ping"}})
        assert resp.status_code == 200
        assert await _event_count(infra) == 0


async def test_other_actions_are_kept_whole_as_generic_events(infra):
    async with running_service(infra, roles=[]) as svc:
        payload = {"action": "candidateHire", "webhookActionId": "wa-9",
                   "data": {"application": {"id": "app-9", "status": "Hired"}}}
        assert (await svc.post_webhook(payload)).status_code == 200
        [(subject, _, body)] = await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
        assert subject == "ev.ashby.AshbyWebhookReceived.app-9"
        assert body["payload"]["data"] == payload["data"]


async def test_while_nats_is_down_webhooks_get_503_and_are_accepted_after_restart(infra):
    if infra.nats_server is None:
        return  # an external NATS cannot be stopped by the test
    async with running_service(infra, roles=[]) as svc:
        infra.nats_server.stop()
        await eventually(lambda: _disconnected(svc), message="client did not notice NATS stopping")
        resp = await svc.post_webhook(schedule_payload("app-6"))
        assert resp.status_code == 503
        assert resp.headers.get("retry-after")
        infra.nats_server.start()
        await eventually(lambda: _connected(svc), timeout=20, message="client did not reconnect")
        resp = await svc.post_webhook(schedule_payload("app-6"))
        assert resp.status_code == 200
        assert await _event_count(infra) == 1


async def _disconnected(svc) -> bool:
    return not svc.services.nc.is_connected


async def _connected(svc) -> bool:
    return svc.services.nc.is_connected


async def test_oversized_bodies_are_refused(infra):
    async with running_service(infra, roles=[], webhook_max_body_bytes=2048) as svc:
        payload = schedule_payload("app-7")
        payload["data"]["padding"] = "x" * 5000
        resp = await svc.post_webhook(payload)
        assert resp.status_code == 413
        assert await _event_count(infra) == 0


async def test_a_client_over_its_rate_limit_gets_429(infra):
    async with running_service(infra, roles=[], webhook_rate_limit_per_s=1.0, webhook_rate_burst=3) as svc:
        codes = [(await svc.post_webhook(schedule_payload(f"app-r{i}"))).status_code for i in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3:] == [429, 429]
        assert await _event_count(infra) == 3


async def test_http_workers_serve_one_port_from_several_processes_and_stop_together(infra, tmp_path):
    port = free_port()
    log_path = tmp_path / "http.log"
    env = {**os.environ, **infra.env(), "HTTP_PORT": str(port), "HTTP_WORKERS": "2", "LOG_FORMAT": "json",
           "LOG_LEVEL": "INFO"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "http"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        listening = await eventually(lambda: _logged(log_path, "http_listening"), timeout=60,
                                     message="supervisor did not start its workers")
        workers = listening["pids"]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        url = f"http://127.0.0.1:{port}"
        await eventually(lambda: healthy(url), timeout=60, message="workers did not answer /health")
        codes = []
        for i in range(12):  # a fresh connection each: the kernel spreads them over both workers' sockets
            body = orjson.dumps(schedule_payload(f"app-w{i}", webhook_action_id=f"wa-w{i}"))
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                resp = await client.post("/webhooks/ashby", content=body,
                                         headers={"Content-Type": "application/json", "Ashby-Signature": sign(body)})
            codes.append(resp.status_code)
        assert codes == [200] * 12
        assert await _event_count(infra) == 12
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not any(alive(pid) for pid in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _logged(path: Path, event: str) -> dict | None:
    for line in (await asyncio.to_thread(path.read_bytes)).splitlines():
        if line.startswith(b"{") and orjson.loads(line).get("event") == event:
            return orjson.loads(line)
    return None



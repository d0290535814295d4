"""Every HTTP response carries X-Request-ID (an inbound valid one is kept), and every log line of
that request names it; Ashby's unsigned set-up ping is answered 200 and nothing is stored."""

from __future__ import annotations

import re

import orjson

from contracts import subjects
from support import running_service, schedule_payload, sign, stream_messages

HEX_ID = re.compile(r"[0-9a-f]{32}")


async def test_every_response_carries_a_request_id_and_a_valid_inbound_one_is_kept(infra):
    async with running_service(infra, roles=[]) as svc:
        answers = [
            await svc.client.get("/health"),
            await svc.client.get("/api/decisions", headers={"Authorization": "Bearer wrong"}),  # 401
            await svc.client.get("/no/such/route"),  # 404
            await svc.post_webhook(schedule_payload("app-r"), secret="wrong"),  # 401 on the webhook path
            await svc.client.post("/webhooks/ashby", content=b"{", headers={"Ashby-Signature": "sha256=00"}),
            await svc.post_webhook_raw(b"[not json"),  # 400, signed
        ]
        assert [a.status_code for a in answers] == [200, 401, 404, 401, 401, 400]
        ids = [a.headers.get("x-request-id") for a in answers]
        assert all(i and HEX_ID.fullmatch(i) for i in ids) and len(set(ids)) == len(ids), ids

        kept = await svc.client.get("/health", headers={"X-Request-ID": "trace-42.a:b"})
        assert kept.headers["x-request-id"] == "trace-42.a:b"
        for bad in ("has spaces in it", "x" * 200):
            fresh = await svc.client.get("/health", headers={"X-Request-ID": bad})
            assert HEX_ID.fullmatch(fresh.headers["x-request-id"])


async def test_every_log_line_of_a_request_names_its_request_id(infra, capsys):
    async with running_service(infra, roles=[]) as svc:
        capsys.readouterr()
        body = orjson.dumps(schedule_payload("app-log"))
        resp = await svc.client.post("/webhooks/ashby", content=body, headers={
            "Ashby-Signature": sign(body), "Content-Type": "application/json", "X-Request-ID": "req-log-1"})
        assert resp.status_code == 200 and resp.headers["x-request-id"] == "req-log-1"
        bad = await svc.post_webhook(schedule_payload("app-log"), secret="wrong")
        out = capsys.readouterr()
        lines = (out.out + out.err).splitlines()
        stored = [line for line in lines if "webhook_stored" in line]
        rejected = [line for line in lines if "webhook_signature_rejected" in line]
        assert stored and all("req-log-1" in line for line in stored), lines
        assert rejected and all(bad.headers["x-request-id"] in line for line in rejected), lines


async def test_an_unsigned_ping_is_answered_200_and_nothing_is_stored(infra):
    ping = {"action": "ping", "data": {"webhookActionType": "ping"}}
    async with running_service(infra, roles=[]) as svc:
        unsigned = await svc.post_webhook(ping, signature="")
        assert unsigned.status_code == 200 and unsigned.json() == {"status": "pong"}
        assert (await svc.post_webhook(ping)).status_code == 200  # signed
        assert (await svc.post_webhook(ping, secret="wrong")).status_code == 401  # a wrong secret is told so
        assert (await svc.post_webhook(schedule_payload("app-p"), signature="")).status_code == 401
        assert await stream_messages(infra.nats_url, subjects.EVENTS_STREAM) == []
        assert await svc.fetchval("SELECT count(*) FROM rejected_webhooks") == 0

"""Recruiters' clicks: signed Slack requests become RecruiterDecided events; anything else is refused."""

from __future__ import annotations

import time

import httpx

from contracts import subjects
from notifier.message import build_proposal
from sandbox.slack import block_actions_payload, signed_request
from support import running_service, stream_messages

SECRET = "test-slack-signing-secret"


def proposal_message() -> dict:
    text, blocks = build_proposal(command_id="cmd-42", application_id="app-42", candidate_name="Ada",
                                  job_title="Engineer", stage_title="Screen", explanation={"requirements": []})
    return {"text": text, "blocks": blocks, "ts": "1700000000.000100", "channel": "D1"}


async def _click(svc, *, secret: str = SECRET, timestamp: int | None = None, action: str = "archive"):
    payload = block_actions_payload(proposal_message(), action, "U-recruiter", action_ts="1700000001.000200")
    body, headers = signed_request(payload, secret, timestamp)
    return await svc.client.post("/slack/interactions", content=body, headers=headers)


async def _events(infra) -> list:
    return [m for m in await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
            if m[0].startswith("ev.slack.")]


async def test_a_signed_click_becomes_one_recruiter_decision_event(infra):
    async with running_service(infra, roles=[], slack_signing_secret=SECRET) as svc:
        resp = await _click(svc)
        assert resp.status_code == 200, resp.text
        assert (await _click(svc)).status_code == 200  # Slack retries the same request: stored once
        [(subject, _, body)] = await _events(infra)
        assert subject == "ev.slack.RecruiterDecided.app-42"
        assert body["payload"]["choice"] == "archive"
        assert body["payload"]["proposal_command_id"] == "cmd-42"
        assert body["payload"]["slack_user_id"] == "U-recruiter"


async def test_bad_signatures_and_old_timestamps_are_refused_and_nothing_is_recorded(infra):
    async with running_service(infra, roles=[], slack_signing_secret=SECRET) as svc:
        assert (await _click(svc, secret="wrong")).status_code == 401
        assert (await _click(svc, timestamp=int(time.time()) - 600)).status_code == 401
        unsigned = await svc.client.post("/slack/interactions", content=b"payload=%7B%7D",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert unsigned.status_code == 401
        assert await _events(infra) == []


async def test_a_malformed_interaction_is_refused_with_a_reason(infra):
    async with running_service(infra, roles=[], slack_signing_secret=SECRET) as svc:
        body = b"nothing=here"
        from slack_sdk.signature import SignatureVerifier

        ts = str(int(time.time()))
        sig = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
        resp = await svc.client.post("/slack/interactions", content=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig})
        assert resp.status_code == 400 and "payload" in resp.json()["detail"]
        assert isinstance(resp, httpx.Response)
        assert await _events(infra) == []

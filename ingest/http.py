"""HTTP endpoints that turn the outside world into events: the Ashby webhook receiver.

Answers 2xx only after JetStream acknowledged the event; 401 bad signature, 400 malformed (raw
delivery kept for inspection), 413 too large, 429 rate limited, 503 when the event could not be
stored so Ashby retries.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

import structlog
from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from contracts.envelope import Envelope
from contracts.errors import InvalidInput, TransientError
from ingest.ratelimit import TokenBuckets
from ingest.webhook import to_envelope, verify_signature

log = structlog.get_logger(__name__)


class EventSink(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


RejectedSink = Callable[[str, str, bytes], Awaitable[None]]


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return Response({"error": reason}, status_code=status, headers=headers or {})


def webhook_handlers(sink: EventSink, *, secret: str | None, rejected: RejectedSink, limiter: TokenBuckets,
                     max_body_bytes: int) -> list[HTTPRouteHandler]:
    @post("/webhooks/ashby", status_code=200, request_max_body_size=max_body_bytes, include_in_schema=True,
          summary="Receive a signed Ashby webhook", tags=["ingest"])
    async def ashby_webhook(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        wait = limiter.take(client, time.monotonic())
        if wait > 0:
            return _error(429, "rate limit exceeded", {"Retry-After": str(max(1, round(wait)))})
        body = await request.body()
        if not verify_signature(secret or "", body, request.headers.get("ashby-signature")):
            log.warning("webhook_signature_rejected", has_header="ashby-signature" in request.headers)
            return _error(401, "invalid or missing Ashby-Signature")
        now = datetime.now(UTC)
        try:
            envelope = to_envelope(body, now)
        except InvalidInput as exc:
            log.warning("webhook_rejected", reason=exc.reason[:200])
            try:
                await rejected("ashby", exc.reason, body)
            except Exception as store_exc:  # noqa: BLE001 - keeping the copy is best effort
                log.warning("rejected_webhook_not_kept", error=type(store_exc).__name__)
            return _error(400, exc.reason)
        if envelope is None:
            return Response({"status": "pong"}, status_code=200)
        try:
            seq, duplicate = await sink.publish_event(envelope)
        except TransientError as exc:
            log.warning("webhook_not_stored", event_id=envelope.event_id, error=str(exc))
            return _error(503, "event store unavailable, retry later", {"Retry-After": "5"})
        log.info("webhook_stored", event_id=envelope.event_id, event_type=envelope.event_type,
                 key=envelope.key, stream_seq=seq, duplicate=duplicate)
        return Response({"status": "duplicate" if duplicate else "stored", "event_id": envelope.event_id},
                        status_code=200)

    return [ashby_webhook]


def slack_handlers(sink: EventSink, *, signing_secret: str | None) -> list[HTTPRouteHandler]:
    from contracts.ids import derive_id
    from ingest.slack import parse_interaction, to_recruiter_decided, verify_slack_request

    @post("/slack/interactions", status_code=200, request_max_body_size=256 * 1024, tags=["ingest"],
          summary="Slack button presses (signed block_actions)")
    async def slack_interactions(request: Request) -> Response:
        body = await request.body()
        if not signing_secret or not verify_slack_request(
                signing_secret, body, request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"), time.time()):
            log.warning("slack_signature_rejected")
            return _error(401, "invalid Slack signature or timestamp")
        try:
            interaction = parse_interaction(body)
            if interaction is None:
                return Response({"status": "ignored"}, status_code=200)
            decided = to_recruiter_decided(interaction)
        except InvalidInput as exc:
            return _error(400, exc.reason)
        now = datetime.now(UTC)
        event_id = derive_id("recruiter-decided", decided.proposal_command_id, decided.slack_user_id,
                             decided.choice, decided.action_ts)
        env = Envelope(event_id=event_id, event_type="RecruiterDecided", key=decided.application_id,
                       occurred_at=now, recorded_at=now, correlation_id=decided.proposal_command_id,
                       source="slack", payload=decided.model_dump())
        try:
            await sink.publish_event(env)
        except TransientError:
            return _error(503, "event store unavailable, retry later")
        log.info("recruiter_decided", event_id=event_id, key=decided.application_id, choice=decided.choice)
        return Response(b"", status_code=200)

    return [slack_interactions]

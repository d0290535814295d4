"""Pure webhook logic: Ashby's signature check and turning a delivery into an event envelope."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from contracts.ashby import InterviewScheduleData, WebhookBody
from contracts.envelope import Envelope, parse_time
from contracts.errors import InvalidInput
from contracts.events import AshbyWebhookReceived, CandidateMerged, InterviewScheduleUpdated
from contracts.ids import webhook_event_id

SCHEDULE_ACTIONS = frozenset({"interviewScheduleUpdate", "interviewScheduleCreate"})
_KEY_PATHS = (("application", "id"), ("applicationId",), ("interviewSchedule", "applicationId"),
              ("candidate", "id"), ("job", "id"), ("offer", "applicationId"), ("opening", "id"))


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """`Ashby-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, compared in constant time."""
    return verify_signature_bytes(secret.encode(), body, header)


def verify_signature_bytes(secret: bytes, body: bytes, header: str | None) -> bool:
    """`verify_signature` with the secret already encoded (the webhook route encodes it once)."""
    if not header or not secret:
        return False
    algo, _, digest = header.strip().partition("=")
    if algo.lower() != "sha256" or not digest:
        return False
    expected = hmac.digest(secret, body, hashlib.sha256).hex().encode()
    return hmac.compare_digest(expected, digest.strip().lower().encode("utf-8", "replace"))


def is_ping(body: bytes) -> bool:
    """True for Ashby's `{"action": "ping", ...}`: sent when a webhook is created or edited, before
    a secret token may be set, so possibly unsigned. Answered 200 and never stored."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and doc.get("action") == "ping"


def _reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{loc}: {err.get('msg')}"


def parse_body(body: bytes) -> WebhookBody:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("body must be a JSON object with 'action' and 'data'")
    try:
        return WebhookBody.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(_reason(exc)) from exc


def _entity_key(action: str, data: dict[str, Any]) -> str:
    for path in _KEY_PATHS:
        node: object = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            return node
    return action


def _merged_ids(data: dict[str, Any]) -> tuple[str, str]:
    """(deleted, merged) candidate ids of a candidateMerge delivery; InvalidInput without both."""
    ids = []
    for part in ("deletedCandidate", "mergedCandidate"):
        node = data.get(part)
        value = node.get("id") if isinstance(node, dict) else None
        if not isinstance(value, str) or not value:
            raise InvalidInput(f"data.{part}.id: a candidate id is required")
        ids.append(value)
    if ids[0] == ids[1]:
        raise InvalidInput("data.mergedCandidate.id: a candidate cannot be merged into itself")
    return ids[0], ids[1]


def _fields(payload: AshbyWebhookReceived | InterviewScheduleUpdated | CandidateMerged) -> dict[str, Any]:
    """The payload's fields as the envelope's `payload` dict: what `model_dump()` gives for these flat
    models (plain fields, no nested models, no aliases), without deep-copying Ashby's raw dict first
    (a measured 8 µs of the webhook path for a 1.3 KB schedule)."""
    return dict(payload)


def to_envelope(body: bytes, now: datetime) -> Envelope | None:
    """The event for a delivery, or None for a ping. Raises `InvalidInput` with a reason."""
    hook = parse_body(body)
    if hook.action == "ping":
        return None
    event_id = webhook_event_id(hook.action, hook.webhook_action_id, body)
    if hook.action in SCHEDULE_ACTIONS:
        try:
            schedule = InterviewScheduleData.model_validate(hook.data).interview_schedule
        except ValidationError as exc:
            raise InvalidInput(f"data.{_reason(exc)}") from exc
        raw = hook.data["interviewSchedule"]
        updated = InterviewScheduleUpdated(action=hook.action, webhook_action_id=hook.webhook_action_id,
                                           schedule=raw)
        return Envelope(event_id=event_id, event_type="InterviewScheduleUpdated", key=schedule.application_id,
                        occurred_at=parse_time(schedule.updated_at) or now, recorded_at=now,
                        correlation_id=event_id, source="ashby", payload=_fields(updated))
    if hook.action == "candidateMerge":
        deleted, merged = _merged_ids(hook.data)
        fact = CandidateMerged(webhook_action_id=hook.webhook_action_id, deleted_candidate_id=deleted,
                               merged_candidate_id=merged, data=hook.data)
        return Envelope(event_id=event_id, event_type="CandidateMerged", key=deleted, occurred_at=now,
                        recorded_at=now, correlation_id=event_id, source="ashby", payload=_fields(fact))
    received = AshbyWebhookReceived(action=hook.action, webhook_action_id=hook.webhook_action_id, data=hook.data)
    return Envelope(event_id=event_id, event_type="AshbyWebhookReceived", key=_entity_key(hook.action, hook.data),
                    occurred_at=now, recorded_at=now, correlation_id=event_id, source="ashby",
                    payload=_fields(received))

"""Identifier types and deterministic id derivation.

Re-delivery, re-polling and re-evaluation derive the same ids from the same facts, so JetStream's
dedupe window and unique keys in Postgres drop the repeats.
"""

import hashlib
import uuid
from typing import NewType

EventId = NewType("EventId", str)
CommandId = NewType("CommandId", str)
ApplicationId = NewType("ApplicationId", str)
StageId = NewType("StageId", str)
RuleSetVersion = NewType("RuleSetVersion", int)

_NAMESPACE = uuid.UUID("6f0f3c2e-3f7b-4f55-9a59-6d1d2a0e7a11")


def derive_id(*parts: object) -> str:
    """A stable UUID (v5) from the given parts; the same parts always give the same id."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join("" if p is None else str(p) for p in parts)))


def webhook_event_id(action: str, webhook_action_id: str | None, raw_body: bytes) -> EventId:
    """Ashby's webhookActionId identifies a delivery; without one, the body's digest does."""
    if webhook_action_id:
        return EventId(derive_id("ashby-webhook", action, webhook_action_id))
    return EventId(derive_id("ashby-webhook", action, hashlib.sha256(raw_body).hexdigest()))


def feedback_event_id(submission_id: str, submitted_at: str | None) -> EventId:
    return EventId(derive_id("feedback", submission_id, submitted_at))


def command_id(rule_set_version: int, application_id: str, stage_id: str, decision: str) -> CommandId:
    return CommandId(derive_id("command", rule_set_version, application_id, stage_id, decision))

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
_NAMESPACE_BYTES = _NAMESPACE.bytes


def derive_id(*parts: object) -> str:
    """A stable UUID (v5) from the given parts; the same parts always give the same id.

    `str(uuid.uuid5(_NAMESPACE, name))` spelled out (SHA-1 of namespace + name, version and
    variant bits set), without building a `UUID` object: ids are derived on every decision."""
    name = "\x1f".join("" if p is None else str(p) for p in parts)
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def webhook_event_id(action: str, webhook_action_id: str | None, raw_body: bytes) -> EventId:
    """Ashby's webhookActionId identifies a delivery; without one, the body's digest does."""
    if webhook_action_id:
        return EventId(derive_id("ashby-webhook", action, webhook_action_id))
    return EventId(derive_id("ashby-webhook", action, hashlib.sha256(raw_body).hexdigest()))


def feedback_event_id(submission_id: str, submitted_at: str | None) -> EventId:
    return EventId(derive_id("feedback", submission_id, submitted_at))


def command_id(rule_set_version: int, application_id: str, stage_id: str, decision: str) -> CommandId:
    return CommandId(derive_id("command", rule_set_version, application_id, stage_id, decision))

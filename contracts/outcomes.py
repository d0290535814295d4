"""Building outcome events and alert commands for a command (shared by executor and notifier)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts import subjects
from contracts.commands import SendAlert
from contracts.envelope import Envelope
from contracts.events import CommandOutcome
from contracts.ids import derive_id


def outcome_event(kind: str, command: Envelope, source: str, now: datetime, *, reason: str | None = None,
                  details: dict[str, Any] | None = None) -> Envelope:
    """`CommandSucceeded|CommandSkipped|CommandFailed` for a command; one id per (command, kind)."""
    p = command.payload
    payload = CommandOutcome(command_id=p["command_id"], command_type=command.event_type,
                             application_id=p.get("application_id"), reason=reason, details=details or {})
    return Envelope(event_id=derive_id("outcome", p["command_id"], kind), event_type=kind, key=command.key,
                    occurred_at=now, recorded_at=now, correlation_id=command.correlation_id,
                    causation_id=command.event_id, source=source, payload=payload.model_dump())


def alert_command(kind: str, text: str, cause: Envelope, now: datetime, *, application_id: str | None) -> tuple[str, Envelope]:
    """(subject, envelope) of a `SendAlert` to the admin channel, one per (cause, kind)."""
    command_id = derive_id("alert", cause.event_id, kind)
    payload = SendAlert(command_id=command_id, kind=kind, text=text, application_id=application_id)
    env = Envelope(event_id=command_id, event_type="SendAlert", key=application_id or kind, occurred_at=now,
                   recorded_at=now, correlation_id=cause.correlation_id, causation_id=cause.event_id,
                   source=cause.source, payload=payload.model_dump())
    return subjects.command_subject("slack", "alert", env.key), env

"""Slack interactions: request signature check and turning a button click into `RecruiterDecided`.

Pure apart from slack-sdk's `SignatureVerifier` (v0 scheme, constant-time compare); the current
time is an argument. Only our two proposal buttons are decisions; any other interaction is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import parse_qs

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.signature import Clock, SignatureVerifier

from contracts.envelope import Envelope
from contracts.errors import InvalidInput
from contracts.events import ArchiveUndoRequested, RecruiterDecided
from contracts.ids import derive_id

# These must match notifier/message.py (components share no code; a unit test checks they agree).
ARCHIVE_ACTION = "autoadvance_archive"
KEEP_ACTION = "autoadvance_keep"
ACTIONS_BLOCK_PREFIX = "autoadvance_proposal:"
UNDO_ACTION = "autoadvance_undo_archive"
UNDO_BLOCK_PREFIX = "autoadvance_undo:"
"""The Undo button of a scheduled archive: its value is the archive's command id (issue 21)."""
CHOICES: dict[str, Literal["archive", "keep", "undo"]] = {ARCHIVE_ACTION: "archive", KEEP_ACTION: "keep",
                                                          UNDO_ACTION: "undo"}
MAX_AGE_S = 300

Choice = Literal["archive", "keep", "undo"]


class _FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def verify_slack_request(signing_secret: str, body: bytes, timestamp: str | None, signature: str | None,
                         now: float) -> bool:
    """True only for `X-Slack-Signature: v0=<hmac>` over `v0:<ts>:<body>` with ts within 5 minutes.

    A timestamp that is not a plausible Unix time (ASCII digits, at most 12 of them) is refused
    before slack-sdk sees it: its clock arithmetic overflows on a 400-digit number.
    """
    if not signing_secret or not signing_secret.strip() or not timestamp or not signature:
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    try:
        verifier = SignatureVerifier(signing_secret, clock=_FixedClock(now))
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except (ValueError, UnicodeError, OverflowError):
        return False


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Model):
    id: str = Field(min_length=1)
    username: str | None = None
    name: str | None = None


class _Action(_Model):
    action_id: str = Field(min_length=1)
    block_id: str | None = None
    value: str | None = None
    action_ts: str | None = None


class _Channel(_Model):
    id: str


class _Container(_Model):
    message_ts: str | None = None
    channel_id: str | None = None


class _Message(_Model):
    ts: str | None = None


class _Team(_Model):
    id: str | None = None


class _BlockActions(_Model):
    type: Literal["block_actions"]
    user: _User
    actions: list[_Action] = Field(min_length=1)
    team: _Team | None = None
    channel: _Channel | None = None
    container: _Container | None = None
    message: _Message | None = None
    response_url: str | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    """A click on Archive or Keep in a proposal, or on Undo of a scheduled archive (then
    `proposal_command_id` is the archive's command id)."""

    choice: Choice
    action_id: str
    proposal_command_id: str
    user_id: str
    user_name: str | None
    action_ts: str | None
    channel_id: str | None
    message_ts: str | None
    response_url: str | None
    team_id: str | None
    application_id: str | None
    """From the actions block's id, which the notifier sets when it posts the proposal."""


def _reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "payload"
    return f"payload.{loc}: {err.get('msg')}"


def _payload_document(body: bytes) -> dict:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("body is not application/x-www-form-urlencoded") from exc
    values = form.get("payload")
    if not values or not values[0].strip():
        raise InvalidInput("form field 'payload' is missing")
    try:
        doc = orjson.loads(values[0])
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("form field 'payload' is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("form field 'payload' must be a JSON object")
    return doc


def parse_interaction(body: bytes) -> Interaction | None:
    """The click in a signed interaction request, or None when it is not one of our buttons.

    Raises `InvalidInput` with a reason when the request is not a well-formed interaction.
    """
    doc = _payload_document(body)
    kind = doc.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidInput("payload.type is missing")
    if kind != "block_actions":
        return None
    try:
        payload = _BlockActions.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(_reason(exc)) from exc
    action = next((a for a in payload.actions if a.action_id in CHOICES), None)
    if action is None:
        return None
    if not action.value:
        raise InvalidInput(f"payload.actions: button {action.action_id} carries no proposal id")
    container = payload.container or _Container()
    block_id = action.block_id or ""
    prefix = UNDO_BLOCK_PREFIX if action.action_id == UNDO_ACTION else ACTIONS_BLOCK_PREFIX
    application_id = block_id[len(prefix):] if block_id.startswith(prefix) else None
    return Interaction(
        choice=CHOICES[action.action_id], action_id=action.action_id, proposal_command_id=action.value,
        user_id=payload.user.id, user_name=payload.user.username or payload.user.name,
        action_ts=action.action_ts, channel_id=payload.channel.id if payload.channel else container.channel_id,
        message_ts=(payload.message.ts if payload.message else None) or container.message_ts,
        response_url=payload.response_url, team_id=payload.team.id if payload.team else None,
        application_id=application_id or None,
    )


def to_recruiter_decided(interaction: Interaction, application_id: str | None = None) -> RecruiterDecided:
    """The event for a click; `application_id` defaults to the one the proposal's block carried."""
    app_id = application_id or interaction.application_id
    if not app_id:
        raise InvalidInput("the click does not say which application it is about")
    if interaction.choice == "undo":
        raise InvalidInput("an Undo click is not a recruiter's decision on a proposal")
    return RecruiterDecided(
        proposal_command_id=interaction.proposal_command_id, application_id=app_id, choice=interaction.choice,
        slack_user_id=interaction.user_id, slack_user_name=interaction.user_name,
        action_ts=interaction.action_ts, channel=interaction.channel_id, message_ts=interaction.message_ts,
    )


def to_undo_requested(interaction: Interaction) -> ArchiveUndoRequested:
    """The event for a click on Undo of a scheduled archive."""
    if interaction.choice != "undo" or not interaction.application_id:
        raise InvalidInput("the Undo click does not say which application it is about")
    return ArchiveUndoRequested(
        archive_command_id=interaction.proposal_command_id, application_id=interaction.application_id,
        slack_user_id=interaction.user_id, slack_user_name=interaction.user_name, action_ts=interaction.action_ts,
        channel=interaction.channel_id, message_ts=interaction.message_ts)


def recruiter_decided_envelope(body: bytes, now: datetime) -> Envelope | None:
    """A signed interaction's body as the `RecruiterDecided` event, or None when it is not one of our
    buttons. Its id is derived from (proposal, user, choice, action time), so Slack's retry of the
    same click is one event. Raises `InvalidInput` for a malformed interaction."""
    interaction = parse_interaction(body)
    if interaction is None:
        return None
    decided = to_recruiter_decided(interaction)
    event_id = derive_id("recruiter-decided", decided.proposal_command_id, decided.slack_user_id,
                         decided.choice, decided.action_ts)
    return Envelope(event_id=event_id, event_type="RecruiterDecided", key=decided.application_id,
                    occurred_at=now, recorded_at=now, correlation_id=decided.proposal_command_id,
                    source="slack", payload=decided.model_dump())


def click_envelope(body: bytes, now: datetime) -> Envelope | None:
    """A signed interaction's body as its event: `RecruiterDecided` for Archive / Keep,
    `ArchiveUndoRequested` for Undo of a scheduled archive; None when it is not one of our buttons.
    One id per click (Slack's retry of the same click is one event). Raises `InvalidInput`."""
    interaction = parse_interaction(body)
    if interaction is None:
        return None
    if interaction.choice != "undo":
        return recruiter_decided_envelope(body, now)
    undo = to_undo_requested(interaction)
    event_id = derive_id("archive-undo-requested", undo.archive_command_id, undo.slack_user_id, undo.action_ts)
    return Envelope(event_id=event_id, event_type="ArchiveUndoRequested", key=undo.application_id,
                    occurred_at=now, recorded_at=now, correlation_id=undo.archive_command_id,
                    source="slack", payload=undo.model_dump())

"""The envelope every event and command travels in, and its (de)serialisation.

The envelope is the unit of the audit trail: `event_id` is deterministic and also sent as
`Nats-Msg-Id`, `occurred_at` is the source's time and `recorded_at` ours.
"""

from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import InvalidInput

MSG_ID_HEADER = "Nats-Msg-Id"


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    schema_version: int = Field(default=1, ge=1)
    key: str = Field(min_length=1)
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str | None = None
    causation_id: str | None = None
    source: str = Field(min_length=1)
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def headers(self) -> dict[str, str]:
        """Headers published with the message; `Nats-Msg-Id` drives JetStream's dedupe."""
        return {
            MSG_ID_HEADER: self.event_id,
            "Event-Type": self.event_type,
            "Schema-Version": str(self.schema_version),
        }


class EventRecord(Protocol):
    """What a fold reads of an event: an `Envelope`, or a replay's `LoggedEvent` (an `event_log`
    row as a plain tuple with the same fields)."""

    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def causation_id(self) -> str | None: ...
    @property
    def source(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...


def parse_envelope(data: bytes | str) -> Envelope:
    """Parse a published envelope and upcast its payload to the current schema version.

    Raises `InvalidInput` (a permanent error) if it is not an envelope or cannot be upcast.
    """
    from contracts.upcasters import current_version, upcast

    try:
        env = Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidInput(f"not an event envelope: {exc.error_count()} error(s): {_first_error(exc)}") from exc
    if env.schema_version >= current_version(env.event_type):
        return env
    try:
        version, payload = upcast(env.event_type, env.schema_version, env.payload)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"cannot upcast {env.event_type} v{env.schema_version}: {exc}") from exc
    return env.model_copy(update={"schema_version": version, "payload": payload})


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
    return f"{loc}: {err.get('msg')}"


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_time(value: Any) -> datetime | None:
    """Parse Ashby's ISO timestamps ('...Z' included); None for missing or unparsable values."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None

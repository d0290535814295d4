"""The envelope every event and command travels in, and its (de)serialisation.

The envelope is the unit of the audit trail: `event_id` is deterministic and also sent as
`Nats-Msg-Id`, `occurred_at` is the source's time and `recorded_at` ours. Text PostgreSQL cannot
store is replaced by one rule when an envelope is written (see `storable`).
"""

import re
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from contracts.errors import InvalidInput
from contracts.upcasters import current_version, upcast

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
        """The JSON published to the log, after `storable` (a no-op, checked on the bytes, for
        ordinary text: only an envelope carrying NUL or a lone surrogate is rebuilt)."""
        try:
            data = self.__pydantic_serializer__.to_json(self)
        except PydanticSerializationError:  # a lone surrogate cannot be encoded as UTF-8
            data = b""
        if data and _NUL_ESCAPE not in data:
            return data
        clean = self.model_construct(**storable(dict(self)))
        return clean.__pydantic_serializer__.to_json(clean)

    def headers(self) -> dict[str, str]:
        """Headers published with the message; `Nats-Msg-Id` drives JetStream's dedupe."""
        return {
            MSG_ID_HEADER: self.event_id,
            "Event-Type": self.event_type,
            "Schema-Version": str(self.schema_version),
        }


_NUL_ESCAPE = b"\\u0000"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` with every U+0000 (NUL) and every unpaired surrogate (U+D800–U+DFFF) in its strings,
    dict keys included, at any depth, replaced by U+FFFD; anything else is returned as it is.

    PostgreSQL refuses both in `text` and `jsonb`, so an event carrying them could be stored on the
    stream (and acknowledged to its sender) yet never reach `event_log` or a read model. This is the
    one rule, applied where every event is written (`Envelope.to_bytes`) and where one is read
    (`parse_envelope`, for events logged before the rule): docs/architecture.md, "Hostile input".
    """
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value) if _UNSTORABLE.search(value) else value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


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
    try:
        env = Envelope.model_validate_json(data)
    except ValidationError as exc:
        raise InvalidInput(f"not an event envelope: {exc.error_count()} error(s): {_first_error(exc)}") from exc
    if _NUL_ESCAPE in (data.encode() if isinstance(data, str) else data):
        env = env.model_construct(**storable(dict(env)))
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

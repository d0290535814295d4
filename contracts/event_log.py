"""The `event_log` table as the code reads and writes it: one column list, rows back into envelopes
(or the lighter `LoggedEvent` a replay reads), and the one jsonb codec every connection uses.

`event_log` is the Postgres copy of the stream (written by the projectors, read by rebuilds and
replays); its events were validated on the way in, so rows are upcast here but not validated again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import orjson

from contracts.envelope import Envelope
from contracts.errors import PermanentError
from contracts.upcasters import current_version, upcast


class _Codecs(Protocol):
    async def set_type_codec(self, typename: str, *, schema: str = ..., encoder: Any, decoder: Any,
                             format: str = ...) -> None: ...


async def json_codecs(conn: _Codecs) -> None:
    """jsonb in binary form (a version byte, then the JSON text) parsed by orjson straight from the
    bytes: the cheapest way to read payloads, and what COPY needs (a binary encoder for every
    column: the projectors COPY into event_log). json as text, also through orjson."""
    await conn.set_type_codec("jsonb", encoder=lambda v: b"\x01" + orjson.dumps(v),
                              decoder=lambda b: orjson.loads(memoryview(b)[1:]), schema="pg_catalog",
                              format="binary")
    await conn.set_type_codec("json", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads,
                              schema="pg_catalog")


LOG_COLUMN_NAMES = ("stream_seq", "event_id", "event_type", "schema_version", "key", "source", "occurred_at",
                    "recorded_at", "correlation_id", "causation_id", "payload")
"""The `event_log` columns, in the order `log_row_envelope` reads them (and the projectors copy them in)."""
LOG_COLUMNS = ", ".join(LOG_COLUMN_NAMES)
"""`LOG_COLUMN_NAMES` as a SELECT list."""


def log_row_envelope(row: Sequence[Any]) -> Envelope:
    """An `event_log` row (`LOG_COLUMNS`) as the envelope the consumers saw, upcast to the current
    schema of its type; it was validated on the way in, so it is not validated again."""
    event_type, version, payload = row[2], row[3], row[10]
    if version < current_version(event_type):
        try:
            version, payload = upcast(event_type, version, payload)
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError(f"cannot upcast {event_type} v{version} (seq {row[0]}): {exc}") from exc
    return Envelope.model_construct(
        event_id=row[1], event_type=event_type, schema_version=version, key=row[4], source=row[5],
        occurred_at=row[6], recorded_at=row[7], correlation_id=row[8], causation_id=row[9], payload=payload)


class LoggedEvent(NamedTuple):
    """An `event_log` row as a replay reads it: the envelope's fields (upcast like
    `log_row_envelope`), its stream sequence and, for a read that skipped other applications'
    rows, the log's clock there (the latest `recorded_at` up to and including the row). A plain
    tuple: building a pydantic model per row costs more than replaying most events."""

    event_id: str
    event_type: str
    schema_version: int
    key: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str | None
    causation_id: str | None
    payload: dict[str, Any]
    stream_seq: int = 0
    clock: datetime | None = None


LOGGED_EVENT_COLUMNS = ", ".join((*LOG_COLUMN_NAMES[1:], LOG_COLUMN_NAMES[0]))
"""The `event_log` columns in the order of `LoggedEvent`'s fields (a `clock` column may follow)."""


def log_row_event(row: Sequence[Any]) -> LoggedEvent:
    """A row of `LOGGED_EVENT_COLUMNS` (optionally followed by the clock) as a `LoggedEvent`,
    upcast to the current schema of its type; not validated again, as in `log_row_envelope`."""
    event = LoggedEvent(*row)
    if event.schema_version < current_version(event.event_type):
        try:
            version, payload = upcast(event.event_type, event.schema_version, event.payload)
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError(f"cannot upcast {event.event_type} v{event.schema_version} "
                                 f"(seq {event.stream_seq}): {exc}") from exc
        event = event._replace(schema_version=version, payload=payload)
    return event

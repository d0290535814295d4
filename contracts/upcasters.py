"""Upcasters: pure `dict -> dict` steps keyed by (event_type, from_version), chained on read.

The log is never rewritten; old events are read through these into the current schema.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from contracts.envelope import Envelope
from contracts.errors import PermanentError
from contracts.events import EVENT_SPECS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _feedback_v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    """v1 named the submitter `submitted_by` and sent values as a list of {path, value} pairs."""
    out = {k: v for k, v in payload.items() if k not in ("submitted_by", "values")}
    out["submitted_by_user_id"] = payload.get("submitted_by")
    out["submitted_values"] = {v["path"]: v.get("value") for v in payload.get("values") or [] if "path" in v}
    out.setdefault("raw", {})
    return out


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("FeedbackSubmitted", 1): _feedback_v1_to_v2,
}


def current_version(event_type: str) -> int:
    spec = EVENT_SPECS.get(event_type)
    return spec.version if spec else 1


def upcast(event_type: str, version: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(current version, payload in the current schema); unknown types pass through unchanged."""
    target = current_version(event_type)
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise ValueError(f"no upcaster for {event_type} v{version}")
        payload = step(payload)
        version += 1
    return version, payload


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


LOGGED_EVENT_COLUMNS = ("event_id, event_type, schema_version, key, source, occurred_at, recorded_at, "
                        "correlation_id, causation_id, payload, stream_seq")
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

"""Upcasters: pure `dict -> dict` steps keyed by (event_type, from_version), chained on read.

The log is never rewritten; old events are read through these into the current schema. Pure: they
know event types and dicts, not envelopes or rows (those are `contracts.envelope` and
`contracts.event_log`, which use these).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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

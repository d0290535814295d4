"""Where a candidate's personal data sits in our events, and how it is marked once sealed (pure).

Ashby hands us candidate objects (`application.info`'s `candidate`, the `application` or
`candidate` of candidate* and application* webhooks, survey answers). Everything in such an object
but its ids and timestamps is personal: name, emails, phones, links, files, location, custom fields.
Before an event is published, those parts are replaced by one sealed marker,
`{"_pii": {"candidate_id": ..., "sealed": "<ciphertext>"}}`, encrypted under the candidate's own
key (docs/decisions/0008-erasure.md); erasing the candidate destroys the key. Nothing the evaluator
decides on is in these parts, so a replay of a log with sealed or erased parts decides the same.

Text that names a candidate (Slack proposals, admin alerts) carries `candidate_token(id)` instead
of the name until the moment it is shown; `fill_candidate_names` puts the name (or `ERASED`) in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

ERASED = "(erased)"
"""What is shown wherever an erased candidate's name was."""

MARKER = "_pii"
SEALED_EVENT_TYPES = frozenset({"AshbyWebhookReceived", "ApplicationSnapshotted", "FeedbackSubmitted"})
"""Event types whose payloads can hold candidate objects (the others carry candidate ids only;
`InterviewScheduleUpdated`, the webhook hot path, is not walked: Ashby sends only `candidateId`)."""

CANDIDATE_KEPT = frozenset({"id", "applicationIds", "createdAt", "updatedAt", "fraudStatus"})
"""Fields of a candidate object that are not personal and stay readable (ids and timestamps)."""
APPLICATION_PERSONAL = ("submitterClientIp", "submitterUserAgent")
"""Fields of an application object (beside its candidate) that are personal."""

DROPPED = "dropped"
"""In place of personal fields that came without a candidate id to seal them under."""

Sealer = Callable[[str, dict[str, Any]], str]
"""(candidate id, personal fields) → the sealed text stored in their place."""


def personal_candidates(event_type: str, payload: Mapping[str, Any]) -> set[str]:
    """The ids of the candidates whose personal data `payload` holds (empty: nothing to seal)."""
    if event_type not in SEALED_EVENT_TYPES:
        return set()
    found: set[str] = set()

    def note(candidate_id: str, _fields: dict[str, Any]) -> str:
        found.add(candidate_id)
        return ""

    seal_tree(payload, note)
    return found


def seal_tree(node: Any, seal: Sealer) -> Any:
    """`node` with every candidate object's personal fields (and its application's) replaced by one
    sealed marker; anything else is returned unchanged (the same objects, not copies)."""
    if isinstance(node, list):
        items = [seal_tree(v, seal) for v in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] | None = None
    for key, value in node.items():
        new = value
        if key == "candidate" and isinstance(value, dict):
            new = _sealed_candidate(value, seal)
        elif key == "surveySubmission" and isinstance(value, dict):
            new = _sealed_fields(value, ("submittedValues",), value.get("candidateId"), seal)
        elif isinstance(value, dict | list):
            new = seal_tree(value, seal)
        if new is not value:
            out = out if out is not None else dict(node)
            out[key] = new
    candidate = node.get("candidate")
    if isinstance(candidate, dict) and any(k in node for k in APPLICATION_PERSONAL):
        out = _sealed_fields(out if out is not None else node, APPLICATION_PERSONAL, candidate.get("id"), seal)
    return out if out is not None else node


def _sealed_candidate(candidate: dict[str, Any], seal: Sealer) -> dict[str, Any]:
    personal = tuple(k for k in candidate if k not in CANDIDATE_KEPT and k != MARKER)
    return _sealed_fields(candidate, personal, candidate.get("id"), seal)


def _sealed_fields(node: dict[str, Any], keys: tuple[str, ...], candidate_id: Any, seal: Sealer) -> dict[str, Any]:
    present = {k: node[k] for k in keys if k in node}
    if not present:
        return node
    out = {k: v for k, v in node.items() if k not in present}
    if not isinstance(candidate_id, str) or not candidate_id:  # no key to seal under: dropped, never kept
        out[MARKER] = {"candidate_id": None, "sealed": DROPPED}
    else:
        out[MARKER] = {"candidate_id": candidate_id, "sealed": seal(candidate_id, present)}
    return out


Opener = Callable[[str, str], dict[str, Any] | None]
"""(candidate id, sealed text) → the personal fields, or None when the key is gone (erased)."""


def open_tree(node: Any, open_: Opener) -> Any:
    """`node` with every sealed marker opened back into its fields; a marker whose key was destroyed
    becomes `{"erased": true}` in place of the fields."""
    if isinstance(node, list):
        return [open_tree(v, open_) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == MARKER and isinstance(value, dict) and "sealed" in value:
            fields = open_(str(value.get("candidate_id")), str(value["sealed"]))
            out.update(fields if fields is not None else {"erased": True})
        else:
            out[key] = open_tree(value, open_)
    return out


_TOKEN = re.compile(r"\{\{candidate:([A-Za-z0-9_.:\-]{1,128})\}\}")


def candidate_token(candidate_id: str | None) -> str | None:
    """The placeholder text carries instead of a candidate's name (None without an id)."""
    return f"{{{{candidate:{candidate_id}}}}}" if candidate_id and _TOKEN.fullmatch(
        f"{{{{candidate:{candidate_id}}}}}") else None


def token_ids(text: str) -> set[str]:
    return set(_TOKEN.findall(text))


def fill_candidate_names(value: Any, names: Mapping[str, str]) -> Any:
    """`value` (text, or blocks: any JSON) with each candidate token replaced by `names[id]`, or by
    "a candidate" for an id `names` lacks."""
    if isinstance(value, str):
        return _TOKEN.sub(lambda m: names.get(m.group(1)) or "a candidate", value) if "{{candidate:" in value \
            else value
    if isinstance(value, list):
        return [fill_candidate_names(v, names) for v in value]
    if isinstance(value, dict):
        return {k: fill_candidate_names(v, names) for k, v in value.items()}
    return value

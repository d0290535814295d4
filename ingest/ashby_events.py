"""Pure mapping of what the Ashby API returned to events, with deterministic ids.

Re-polling the same facts yields the same ids, so JetStream's dedupe and the projectors' unique
keys drop the repeats; a changed record yields a new id (its content is part of the id).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from contracts.envelope import Envelope, parse_time
from contracts.events import ApplicationSnapshotted, AshbyRecordSynced, FeedbackSubmitted
from contracts.ids import derive_id, feedback_event_id

METADATA_KINDS = {
    "job": "JobSynced",
    "interview_plan": "InterviewPlanSynced",
    "feedback_form": "FeedbackFormSynced",
    "interview": "InterviewSynced",
    "user": "UserSynced",
    "archive_reason": "ArchiveReasonSynced",
}


def content_hash(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _id_of(node: Any) -> str | None:
    if isinstance(node, dict):
        value = node.get("id")
        return str(value) if value else None
    return str(node) if node else None


def feedback_envelope(item: dict[str, Any], now: datetime, *, application_id: str | None = None) -> Envelope:
    """A `FeedbackSubmitted` event for one `applicationFeedback.list` result."""
    app_id = item.get("applicationId") or application_id
    if not app_id or not item.get("id"):
        raise ValueError("feedback without id or applicationId")
    submitted_at = item.get("submittedAt")
    form_id = item.get("feedbackFormDefinitionId") or _id_of(item.get("formDefinition"))
    payload = FeedbackSubmitted(
        feedback_id=str(item["id"]), application_id=str(app_id), submitted_at=submitted_at,
        submitted_by_user_id=_id_of(item.get("submittedByUser")), interview_id=item.get("interviewId"),
        interview_event_id=item.get("interviewEventId"), form_definition_id=form_id,
        submitted_values=item.get("submittedValues") or {}, raw=item,
    )
    return Envelope(event_id=feedback_event_id(str(item["id"]), submitted_at), event_type="FeedbackSubmitted",
                    schema_version=2, key=str(app_id), occurred_at=parse_time(submitted_at) or now, recorded_at=now, source="ashby",
                    payload=payload.model_dump())


def application_envelope(info: dict[str, Any], now: datetime, *, causation_id: str | None = None) -> Envelope:
    """An `ApplicationSnapshotted` event from `application.info`; same state → same id."""
    stage = info.get("currentInterviewStage") or {}
    job = info.get("job") or {}
    payload = ApplicationSnapshotted(
        application_id=str(info["id"]), candidate_id=_id_of(info.get("candidate")), job_id=_id_of(job),
        interview_plan_id=stage.get("interviewPlanId") or job.get("interviewPlanId"),
        current_stage_id=stage.get("id"), status=info.get("status"),
        hiring_team=[{k: m.get(k) for k in ("userId", "role")} for m in info.get("hiringTeam") or []],
        fetched_at=now.isoformat(), raw=info,
    )
    event_id = derive_id("application-snapshot", info["id"], stage.get("id"), info.get("status"),
                         info.get("updatedAt"), content_hash(payload.hiring_team))
    return Envelope(event_id=event_id, event_type="ApplicationSnapshotted", key=str(info["id"]),
                    occurred_at=parse_time(info.get("updatedAt")) or now, recorded_at=now, source="ashby",
                    causation_id=causation_id, payload=payload.model_dump())


def metadata_envelope(kind: str, record: dict[str, Any], now: datetime) -> Envelope:
    """A `<Kind>Synced` event for one metadata record; the content hash is part of the id."""
    event_type = METADATA_KINDS[kind]
    record_id = str(record["id"])
    payload = AshbyRecordSynced(record_id=record_id, data=record)
    return Envelope(event_id=derive_id("metadata", kind, record_id, content_hash(record)), event_type=event_type,
                    key=record_id, occurred_at=parse_time(record.get("updatedAt")) or now, recorded_at=now,
                    source="ashby", payload=payload.model_dump())


def submitters(items: list[dict[str, Any]]) -> set[str]:
    return {uid for uid in (_id_of(i.get("submittedByUser")) for i in items) if uid}

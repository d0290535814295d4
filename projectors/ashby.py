"""Pure mapping of polled Ashby facts to read-model rows (applications, feedback, metadata)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.consumers import Delivered
from contracts.envelope import parse_time
from contracts.events import METADATA_EVENT_TYPES

KIND_OF = {"JobSynced": "job", "InterviewPlanSynced": "interview_plan", "FeedbackFormSynced": "feedback_form",
           "InterviewSynced": "interview", "UserSynced": "user", "ArchiveReasonSynced": "archive_reason"}
assert set(KIND_OF) == set(METADATA_EVENT_TYPES)


def stage_rows(plan: dict[str, Any]) -> list[tuple[str, str, str | None, str | None, int | None]]:
    """(stage id, plan id, title, type, order) for every stage listed with a plan."""
    rows = []
    for stage in plan.get("stages") or []:
        if stage.get("id"):
            order = stage.get("orderInInterviewPlan")
            rows.append((str(stage["id"]), str(stage.get("interviewPlanId") or plan["id"]), stage.get("title"),
                         stage.get("type"), int(order) if isinstance(order, int | float) else None))
    return rows


def form_field_rows(form: dict[str, Any]) -> list[tuple[str, str, str | None, str | None, bool | None, Any]]:
    """(form id, field path, title, type, required, selectable values) for every field of a form."""
    definition = form.get("formDefinition") or {}
    rows = []
    for section in definition.get("sections") or []:
        for entry in section.get("fields") or []:
            field = entry.get("field") or entry
            path = field.get("path")
            if path:
                rows.append((str(form["id"]), str(path), field.get("title"), field.get("type"),
                             entry.get("isRequired"), field.get("selectableValues")))
    return rows


@dataclass(slots=True)
class AshbyRows:
    """What one batch of polled facts writes; tuples in the column order of `projectors.store`."""

    applications: list[tuple[Any, ...]] = field(default_factory=list)
    feedback: list[tuple[Any, ...]] = field(default_factory=list)
    metadata: list[tuple[str, str, dict[str, Any], int]] = field(default_factory=list)
    stages: list[tuple[str, list[tuple[Any, ...]], int]] = field(default_factory=list)  # (plan id, rows, seq)
    form_fields: list[tuple[str, list[tuple[Any, ...]]]] = field(default_factory=list)  # (form id, rows)
    applied: int = 0


def to_rows(batch: list[Delivered]) -> AshbyRows:
    """Applications, feedback and metadata rows from polled Ashby facts (newest report wins in SQL)."""
    out = AshbyRows()
    for d in batch:
        e, p = d.envelope, d.envelope.payload
        if e.event_type == "ApplicationSnapshotted":
            out.applications.append((p["application_id"], p.get("candidate_id"), p.get("job_id"),
                                     p.get("interview_plan_id"), p.get("current_stage_id"), p.get("status"),
                                     p.get("hiring_team") or [], e.occurred_at, d.stream_seq))
        elif e.event_type == "FeedbackSubmitted":
            out.feedback.append((p["feedback_id"], p["application_id"], parse_time(p.get("submitted_at")),
                                 p.get("submitted_by_user_id"), p.get("interview_id"), p.get("interview_event_id"),
                                 p.get("form_definition_id"), p.get("submitted_values") or {}, d.stream_seq))
        elif e.event_type in KIND_OF:
            kind, data = KIND_OF[e.event_type], p.get("data") or {}
            out.metadata.append((kind, p["record_id"], data, d.stream_seq))
            if kind == "interview_plan":
                out.stages.append((p["record_id"], stage_rows(data), d.stream_seq))
            elif kind == "feedback_form":
                out.form_fields.append((p["record_id"], form_field_rows(data)))
        else:
            continue
        out.applied += 1
    return out

"""Pure mapping of polled Ashby facts to read-model rows (applications, feedback, metadata)."""

from __future__ import annotations

from typing import Any

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

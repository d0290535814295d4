"""The typed answers of `/api/decisions` and `/api/pending`: the OpenAPI document shows these
schemas, with the enumerations a client can switch on (decision `status`, `waiting_for.kind`)."""

from __future__ import annotations

from typing import Any, Literal, get_args

import msgspec

from contracts.events import DecisionOutcome

DecisionStatus = Literal["pending", "shadow", "dry_run", "awaiting_recruiter", "recruiter_chose_archive",
                         "recruiter_chose_keep", "succeeded", "skipped", "failed"]
"""`pending`: its command is on its way; `shadow` / `dry_run`: decided, nothing carried out;
`awaiting_recruiter`: the proposal is in Slack; `recruiter_chose_*`: the recruiter's click;
`succeeded` / `skipped` / `failed`: what the executor's command ended as (`status_reason` says why)."""
DECISION_STATUSES: frozenset[str] = frozenset(get_args(DecisionStatus))

WaitKind = Literal["feedback", "interview_not_scheduled", "missing_field", "no_feedback", "quiet_period",
                   "application_snapshot", "interview_plan", "no_rule", "not_applicable"]
"""What an evaluation waits for; `no_rule` / `not_applicable`: no rule of the live set can act on
the application's stage (e.g. a last stage without `target_stage_id`)."""


class DecisionView(msgspec.Struct, kw_only=True):
    """One decision with its explanation and where its command stands."""

    decision_id: str
    application_id: str
    stage_id: str
    rule_set_version: int
    rule_id: str
    outcome: DecisionOutcome
    mode: Literal["live", "shadow"]
    dry_run: bool
    target_stage_id: str | None
    archive_reason_id: str | None
    command_id: str | None
    command_type: str | None
    status: DecisionStatus
    status_reason: str | None
    explanation: dict[str, Any]
    decided_at: str
    candidate_id: str | None
    job_id: str | None


class WaitingFor(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One thing an evaluation waits for; the ids say which interview, interviewer or field."""

    kind: WaitKind
    detail: str | None = None
    interview_id: str | None = None
    interview_event_id: str | None = None
    interviewer_id: str | None = None
    schedule_id: str | None = None
    feedback_id: str | None = None
    field: str | None = None


class PendingView(msgspec.Struct, kw_only=True):
    """An undecided application: its stage and rule, what it waits for, and when its timer fires."""

    application_id: str
    stage_id: str | None
    rule_id: str | None
    waiting_for: list[WaitingFor]
    fire_at: str | None
    updated_at: str


def decisions(rows: list[dict[str, Any]]) -> list[DecisionView]:
    return msgspec.convert(rows, list[DecisionView])


def pending(rows: list[dict[str, Any]]) -> list[PendingView]:
    return msgspec.convert(rows, list[PendingView])

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


class LateView(msgspec.Struct, kw_only=True):
    """Feedback nudges (issue 21): one interviewer's missing feedback with its due and escalation
    times, and whether the evaluator issued the nudge / escalation for this due time."""

    interviewer_id: str
    interview_event_id: str
    interview_id: str | None
    due_at: str
    escalate_at: str | None
    nudge_issued: bool
    escalation_issued: bool


NudgeStatus = Literal["issued", "sent", "skipped", "failed"]


class NudgeView(msgspec.Struct, kw_only=True):
    """A feedback nudge or escalation the evaluator issued, and what Slack made of it
    (`issued` until the notifier reports; `status_reason` says why it was skipped or failed)."""

    kind: Literal["nudge", "escalation"]
    stage_id: str
    interview_event_id: str
    interviewer_id: str
    due_at: str
    command_id: str
    issued_at: str
    status: NudgeStatus
    status_reason: str | None
    sent_at: str | None


class PendingView(msgspec.Struct, kw_only=True):
    """An undecided application: its stage and rule, what it waits for, and when its timer fires;
    with feedback nudges, when its missing feedback is due (`feedback_due_at`, `late`) and the
    nudges sent (`nudges`)."""

    application_id: str
    stage_id: str | None
    rule_id: str | None
    waiting_for: list[WaitingFor]
    fire_at: str | None
    updated_at: str
    feedback_due_at: str | None = None
    late: list[LateView] | None = None
    nudges: list[NudgeView] = msgspec.field(default_factory=list)


def decisions(rows: list[dict[str, Any]]) -> list[DecisionView]:
    return msgspec.convert(rows, list[DecisionView])


def pending(rows: list[dict[str, Any]]) -> list[PendingView]:
    return msgspec.convert(rows, list[PendingView])

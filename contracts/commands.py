"""Commands: imperative messages on COMMANDS, carried out by the executor (Ashby) or notifier (Slack).

A command's id derives from (rule-set version, application, stage, decision), so re-evaluation
never issues it twice.
"""

from dataclasses import dataclass
from typing import Any

from pydantic import Field

from contracts.events import LateFeedback, Payload


class AdvanceApplication(Payload):
    command_id: str
    application_id: str
    from_stage_id: str
    to_stage_id: str
    decision_id: str
    rule_set_version: int
    rule_id: str
    job_id: str | None = None
    """The job the decision was made for; the executor skips the command if the application moved."""


class ArchiveApplication(Payload):
    command_id: str
    application_id: str
    from_stage_id: str
    archive_reason_id: str
    archive_email_template_id: str | None = None
    decision_id: str | None = None
    rule_set_version: int | None = None
    rule_id: str | None = None
    decided_by: str | None = None
    job_id: str | None = None
    """The job the decision was made for; the executor skips the command if the application moved."""


class ProposeRejection(Payload):
    command_id: str
    application_id: str
    stage_id: str
    job_id: str | None = None
    archive_reason_id: str
    decision_id: str
    rule_set_version: int
    rule_id: str
    explanation: dict[str, Any] = Field(default_factory=dict)


class SendAlert(Payload):
    command_id: str
    kind: str
    text: str
    application_id: str | None = None


# --- feedback nudges and stage SLAs (issue 21) ---------------------------------------------------


class NudgeInterviewer(Payload):
    """DM an interviewer whose feedback is past its due time (id: one per event, interviewer and due time)."""

    command_id: str
    application_id: str
    stage_id: str
    interviewer_id: str
    interview_event_id: str
    interview_id: str | None = None
    feedback_link: str | None = None
    due_at: str
    rule_id: str
    rule_set_version: int


class EscalateFeedback(Payload):
    """Tell the recruiter / hiring manager whose feedback is late past `escalate_after`."""

    command_id: str
    application_id: str
    stage_id: str
    late: list[LateFeedback]
    rule_id: str
    rule_set_version: int


@dataclass(frozen=True, slots=True)
class CommandSpec:
    command_type: str
    model: type[Payload]
    target: str
    verb: str


COMMAND_SPECS: dict[str, CommandSpec] = {
    s.command_type: s
    for s in (
        CommandSpec("AdvanceApplication", AdvanceApplication, "ashby", "advance"),
        CommandSpec("ArchiveApplication", ArchiveApplication, "ashby", "archive"),
        CommandSpec("ProposeRejection", ProposeRejection, "slack", "propose_rejection"),
        CommandSpec("SendAlert", SendAlert, "slack", "alert"),
        CommandSpec("NudgeInterviewer", NudgeInterviewer, "slack", "nudge"),  # issue 21
        CommandSpec("EscalateFeedback", EscalateFeedback, "slack", "escalate"),  # issue 21
    )
}

"""Every event type: its payload model, current schema version, producer and consumers.

Events are past-tense facts. Payloads we publish are frozen with `extra="forbid"`; parts copied
from Ashby stay raw dicts (`data`, `schedule`, `submitted_values`) so nothing Ashby said is lost.

Why one module of ~450 lines: it is the catalogue (every type beside its version, producer and
consumers, read by `contracts.catalogue` to generate docs/events.md); split by feature, a reader
could no longer see every fact the log can hold in one place.
"""

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- ingest: Ashby webhooks -------------------------------------------------------------------


class InterviewScheduleUpdated(Payload):
    """Ashby's interviewScheduleUpdate (or Create) webhook, schedule kept as Ashby sent it."""

    action: str
    webhook_action_id: str | None = None
    schedule: dict[str, Any]


class AshbyWebhookReceived(Payload):
    """Any other webhook action, stored whole so nothing is thrown away."""

    action: str
    webhook_action_id: str | None = None
    data: dict[str, Any]


# --- ingest: Ashby pollers --------------------------------------------------------------------


class FeedbackSubmitted(Payload):
    feedback_id: str
    application_id: str
    submitted_at: str | None = None
    submitted_by_user_id: str | None = None
    interview_id: str | None = None
    interview_event_id: str | None = None
    form_definition_id: str | None = None
    submitted_values: dict[str, Any] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)


class ApplicationSnapshotted(Payload):
    """`application.info` as fetched: where the application stands in its plan."""

    application_id: str
    candidate_id: str | None = None
    job_id: str | None = None
    interview_plan_id: str | None = None
    current_stage_id: str | None = None
    status: str | None = None
    hiring_team: list[dict[str, Any]] = Field(default_factory=list)
    fetched_at: str
    raw: dict[str, Any] = Field(default_factory=dict)


class AshbyRecordSynced(Payload):
    """A metadata record (job, plan, stage list, form, interview, user, archive reason)."""

    record_id: str
    data: dict[str, Any]


# --- operator ---------------------------------------------------------------------------------


class RuleSetActivated(Payload):
    version: int
    document: dict[str, Any]
    activated_by: str | None = None


class EvaluationRequested(Payload):
    application_id: str
    requested_by: str | None = None


# --- operator: the pause switch (issue 17) --------------------------------------------------


class EffectsPaused(Payload):
    """An operator stopped every effect (Ashby writes, Slack messages); decisions are still made and
    their commands wait. The newest of this and `EffectsResumed` is the switch's state."""

    paused_by: str
    reason: str = ""


class EffectsResumed(Payload):
    """An operator let effects run again; the commands that waited are carried out once each."""

    resumed_by: str
    reason: str = ""


# --- evaluator --------------------------------------------------------------------------------

DecisionOutcome = Literal["advance", "propose_rejection", "archive", "timeout"]


class DecisionMade(Payload):
    decision_id: str
    application_id: str
    stage_id: str
    rule_set_version: int
    rule_id: str
    outcome: DecisionOutcome
    mode: Literal["live", "shadow"]
    dry_run: bool = False
    target_stage_id: str | None = None
    archive_reason_id: str | None = None
    command_id: str | None = None
    explanation: dict[str, Any] = Field(default_factory=dict)
    decided_at: str


# --- Slack ------------------------------------------------------------------------------------


class RecruiterDecided(Payload):
    proposal_command_id: str
    application_id: str
    choice: Literal["archive", "keep"]
    slack_user_id: str
    slack_user_name: str | None = None
    action_ts: str | None = None
    channel: str | None = None
    message_ts: str | None = None


class SlackMessagePosted(Payload):
    command_id: str
    application_id: str | None = None
    channel: str
    ts: str


# --- effects outcomes -------------------------------------------------------------------------


class CommandOutcome(Payload):
    command_id: str
    command_type: str
    application_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class CommandAttempted(Payload):
    """One attempt at a command under a lease; `reconcile_first` says why it must read before writing
    (`outcome_unknown`: an earlier write's answer was lost; `holder_lost`: an earlier holder died)."""

    command_id: str
    command_type: str
    application_id: str | None = None
    attempt: int
    replica: str
    reconcile_first: Literal["outcome_unknown", "holder_lost"] | None = None


class CommandOutcomeUnknown(Payload):
    """A write was sent and no answer said whether it took effect; it is not sent again until a read shows."""

    command_id: str
    command_type: str
    application_id: str | None = None
    attempt: int
    replica: str
    endpoint: str
    reason: str


class CommandReconciled(Payload):
    """What a read of the application showed after an unknown outcome or a lost holder, and the verdict:
    `applied` (done), `not_applied` (safe to send again), `moved` (someone else moved it: skipped)."""

    command_id: str
    command_type: str
    application_id: str | None = None
    attempt: int
    replica: str
    verdict: Literal["applied", "not_applied", "moved"]
    current_stage_id: str | None = None
    application_status: str | None = None
    archive_reason_id: str | None = None
    reason: str | None = None


# --- feedback nudges and stage SLAs (issue 21) ---------------------------------------------------


class LateFeedback(Payload):
    """One interviewer's feedback for one interview event, still missing after its due time."""

    interviewer_id: str
    interview_event_id: str
    interview_id: str | None = None
    due_at: str


class FeedbackNudgeSent(Payload):
    """Slack accepted the DM that reminded an interviewer of their missing feedback (once per due time)."""

    command_id: str
    application_id: str
    stage_id: str
    interviewer_id: str
    interview_event_id: str
    interview_id: str | None = None
    due_at: str
    slack_user_id: str
    channel: str
    ts: str
    sent_at: str


class FeedbackEscalated(Payload):
    """Slack accepted the message telling the recruiter / hiring manager whose feedback is late.
    `recipients`: the hiring-team roles told (`Recruiter`, `Hiring Manager`, or `fallback channel`)."""

    command_id: str
    application_id: str
    stage_id: str
    late: list[LateFeedback]
    recipients: list[str]
    channels: list[str]
    sent_at: str


# --- undo window for archives and merged/moved candidates (issue 21, parts 2 and 3) ----------


class ArchiveScheduled(Payload):
    """An archive waits `delay_s` before it is handed to the executor; Undo in Slack cancels it until `due_at`."""

    command_id: str
    application_id: str
    decision_id: str
    stage_id: str
    job_id: str | None = None
    archive_reason_id: str | None = None
    archive_email_template_id: str | None = None
    decided_by: str
    proposal_command_id: str | None = None
    rule_id: str | None = None
    delay_s: float
    due_at: str
    explanation: dict[str, Any] = Field(default_factory=dict)


class ArchiveReleased(Payload):
    """The undo window ended: the archive command went to the executor (Undo is too late from now on)."""

    command_id: str
    application_id: str
    due_at: str
    released_at: str


class ArchiveUndoRequested(Payload):
    """Someone pressed Undo on a scheduled archive in Slack."""

    archive_command_id: str
    application_id: str
    slack_user_id: str
    slack_user_name: str | None = None
    action_ts: str | None = None
    channel: str | None = None
    message_ts: str | None = None


class ArchiveUndone(Payload):
    """An Undo came within the window: the archive was cancelled, nothing was sent to Ashby."""

    command_id: str
    application_id: str
    undone_by: str
    undone_at: str
    due_at: str


class ArchiveUndoRefused(Payload):
    """An Undo that could not cancel the archive, with the reason (`too_late`: already handed to the
    executor at `released_at`; `already_undone`; `cancelled`; `unknown`: no such scheduled archive)."""

    command_id: str
    application_id: str
    slack_user_id: str
    reason: Literal["too_late", "already_undone", "cancelled", "unknown"]
    detail: str
    released_at: str | None = None
    channel: str | None = None
    message_ts: str | None = None


class CandidateMerged(Payload):
    """Ashby's candidateMerge webhook: `deleted_candidate_id` was merged into `merged_candidate_id`."""

    webhook_action_id: str | None = None
    deleted_candidate_id: str
    merged_candidate_id: str
    data: dict[str, Any]


class ApplicationMerged(Payload):
    """An application of a merged-away candidate, as Ashby showed it after the merge: gone and
    continued by `surviving_application_id` (None: no surviving application was found), or kept
    (`surviving_application_id` == `application_id`, now under the merged candidate)."""

    application_id: str
    surviving_application_id: str | None = None
    deleted_candidate_id: str
    merged_candidate_id: str
    job_id: str | None = None
    reason: str


class DecisionsCancelled(Payload):
    """What the evaluator had pending for an application (a wait, a scheduled archive) was cancelled
    because the application was merged away or moved to another job or plan."""

    application_id: str
    reason: str
    cause: Literal["merged", "moved"]
    surviving_application_id: str | None = None
    stage_id: str | None = None
    cancelled_command_ids: list[str] = Field(default_factory=list)
    waiting_for: list[dict[str, Any]] = Field(default_factory=list)


# --- privacy: erasure (issue 20, part 4) ------------------------------------------------------


class CandidateErased(Payload):
    """A candidate's personal data was made unreadable everywhere (their key destroyed). Ids only."""

    candidate_id: str
    erased_by: str
    reason: Literal["request", "retention"]


@dataclass(frozen=True, slots=True)
class EventSpec:
    event_type: str
    model: type[Payload]
    version: int
    source: str
    producer: str
    consumers: tuple[str, ...]
    description: str


_SPECS = [
    EventSpec("InterviewScheduleUpdated", InterviewScheduleUpdated, 1, "ashby", "ingest (webhook)",
              ("projectors", "evaluator", "ingest (poller)"), "An interview schedule was created or changed."),
    EventSpec("AshbyWebhookReceived", AshbyWebhookReceived, 1, "ashby", "ingest (webhook)",
              ("projectors",), "A webhook action we do not model yet, kept whole."),
    EventSpec("FeedbackSubmitted", FeedbackSubmitted, 2, "ashby", "ingest (poller)",
              ("projectors", "evaluator"), "An interviewer submitted (or edited) feedback."),
    EventSpec("ApplicationSnapshotted", ApplicationSnapshotted, 1, "ashby", "ingest (poller)",
              ("projectors", "evaluator"), "The application's job, plan and current stage as Ashby reported them."),
    EventSpec("JobSynced", AshbyRecordSynced, 1, "ashby", "ingest (poller)", ("projectors", "evaluator"),
              "A job as Ashby reported it."),
    EventSpec("InterviewPlanSynced", AshbyRecordSynced, 1, "ashby", "ingest (poller)", ("projectors", "evaluator"),
              "An interview plan with its stages in order."),
    EventSpec("FeedbackFormSynced", AshbyRecordSynced, 1, "ashby", "ingest (poller)", ("projectors",),
              "A feedback form definition."),
    EventSpec("InterviewSynced", AshbyRecordSynced, 1, "ashby", "ingest (poller)", ("projectors",),
              "An interview (type) with its feedback form."),
    EventSpec("UserSynced", AshbyRecordSynced, 1, "ashby", "ingest (poller)", ("projectors", "notifier"),
              "An Ashby user."),
    EventSpec("ArchiveReasonSynced", AshbyRecordSynced, 1, "ashby", "ingest (poller)", ("projectors", "evaluator"),
              "An archive reason."),
    EventSpec("RuleSetActivated", RuleSetActivated, 1, "operator", "ingest (operator API/CLI)",
              ("evaluator", "projectors"), "An operator activated an immutable rule-set version."),
    EventSpec("EvaluationRequested", EvaluationRequested, 1, "operator", "ingest (operator API)",
              ("evaluator",), "An operator asked for an application to be evaluated now."),
    # the pause switch (issue 17)
    EventSpec("EffectsPaused", EffectsPaused, 1, "operator", "runtime (pause API/CLI/console)",
              ("executor", "notifier", "projectors"),
              "An operator paused every effect: no Ashby write, no Slack message until resumed."),
    EventSpec("EffectsResumed", EffectsResumed, 1, "operator", "runtime (pause API/CLI/console)",
              ("executor", "notifier", "projectors"),
              "An operator resumed effects; the commands that waited run once each."),
    EventSpec("DecisionMade", DecisionMade, 1, "evaluator", "evaluator", ("projectors",),
              "A rule decided an application's outcome in a stage, with its explanation."),
    EventSpec("RecruiterDecided", RecruiterDecided, 1, "slack", "ingest (Slack interactions)",
              ("evaluator", "notifier", "projectors"), "A recruiter pressed Archive or Keep on a proposal."),
    EventSpec("SlackMessagePosted", SlackMessagePosted, 1, "notifier", "notifier", ("projectors",),
              "Slack accepted a message for a command."),
    # feedback nudges and stage SLAs (issue 21)
    EventSpec("FeedbackNudgeSent", FeedbackNudgeSent, 1, "notifier", "notifier", ("projectors", "evaluator"),
              "An interviewer was reminded in Slack (DM) of feedback past its due time."),
    EventSpec("FeedbackEscalated", FeedbackEscalated, 1, "notifier", "notifier", ("projectors", "evaluator"),
              "The recruiter / hiring manager was told in Slack whose feedback is late past escalate_after."),
    EventSpec("CommandAttempted", CommandAttempted, 1, "executor", "executor", ("projectors",),
              "An executor replica took the command's lease and started attempt N."),
    EventSpec("CommandOutcomeUnknown", CommandOutcomeUnknown, 1, "executor", "executor", ("projectors",),
              "A write to Ashby was sent but its outcome is unknown (timeout, lost connection, 5xx)."),
    EventSpec("CommandReconciled", CommandReconciled, 1, "executor", "executor", ("projectors",),
              "A read of the application settled an unknown outcome: applied, not applied, or moved by someone."),
    EventSpec("CommandSucceeded", CommandOutcome, 1, "executor", "executor / notifier",
              ("projectors", "evaluator", "notifier"),
              "A command took effect in Ashby or Slack."),
    EventSpec("CommandSkipped", CommandOutcome, 1, "executor", "executor / notifier",
              ("projectors", "evaluator", "notifier"),
              "A command was not carried out, with the reason (e.g. the application left the stage)."),
    EventSpec("CommandFailed", CommandOutcome, 1, "executor", "executor / notifier",
              ("projectors", "evaluator", "notifier"),
              "A command ended in failure (a permanent error, or retries spent): it is in the DLQ and "
              "the admins were alerted."),
    # --- undo window for archives and merged/moved candidates (issue 21, parts 2 and 3) ---
    EventSpec("ArchiveScheduled", ArchiveScheduled, 1, "evaluator", "evaluator", ("projectors", "evaluator", "notifier"),
              "An archive waits for its undo window before it is handed to the executor."),
    EventSpec("ArchiveReleased", ArchiveReleased, 1, "evaluator", "evaluator", ("projectors", "evaluator", "notifier"),
              "The undo window ended and the archive command went to the executor."),
    EventSpec("ArchiveUndoRequested", ArchiveUndoRequested, 1, "slack", "ingest (Slack interactions)",
              ("evaluator", "projectors"), "Someone pressed Undo on a scheduled archive."),
    EventSpec("ArchiveUndone", ArchiveUndone, 1, "evaluator", "evaluator", ("projectors", "evaluator", "notifier"),
              "An Undo within the window cancelled the archive; nothing was sent to Ashby."),
    EventSpec("ArchiveUndoRefused", ArchiveUndoRefused, 1, "evaluator", "evaluator", ("projectors", "notifier"),
              "An Undo came too late (or for an archive already undone or cancelled), with the reason."),
    EventSpec("CandidateMerged", CandidateMerged, 1, "ashby", "ingest (webhook)", ("projectors", "ingest (poller)"),
              "Ashby merged a candidate into another (candidateMerge webhook)."),
    EventSpec("ApplicationMerged", ApplicationMerged, 1, "ashby", "ingest (poller)",
              ("projectors", "evaluator"),
              "After a candidate merge, where an application of the merged-away candidate went."),
    EventSpec("DecisionsCancelled", DecisionsCancelled, 1, "evaluator", "evaluator", ("projectors", "notifier"),
              "Pending decisions of an application merged away or moved to another job/plan were cancelled."),


    # privacy: erasure (issue 20, part 4)
    EventSpec("CandidateErased", CandidateErased, 1, "privacy", "privacy (operator API/CLI, retention job)",
              ("projectors",), "A candidate's personal data was erased (their key destroyed); ids only, no "
              "personal data."),
]

EVENT_SPECS: dict[str, EventSpec] = {s.event_type: s for s in _SPECS}

METADATA_EVENT_TYPES = ("JobSynced", "InterviewPlanSynced", "FeedbackFormSynced", "InterviewSynced",
                        "UserSynced", "ArchiveReasonSynced")

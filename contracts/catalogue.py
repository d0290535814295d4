"""The event catalogue: an example of every event type and version, rendered as docs/events.md.

`python -m contracts.catalogue > docs/events.md` regenerates the page; a test keeps it in step.
"""

from __future__ import annotations

import json
from typing import Any

from contracts.commands import COMMAND_SPECS
from contracts.events import EVENT_SPECS

_SCHEDULE = {"id": "sch-1", "status": "WaitingOnFeedback", "applicationId": "app-1", "interviewStageId": "stg-2",
             "updatedAt": "2026-11-02T11:00:00.000Z",
             "interviewEvents": [{"id": "iev-1", "interviewId": "int-1", "interviewerUserIds": ["usr-1"],
                                  "interviewers": [{"id": "usr-1", "isFeedbackRequired": True}]}]}
_EXPLANATION = {"rule_set_version": 3, "rule_id": "onsite-pass",
                "requirements": [{"interview_id": "int-1", "field": "overall", "operator": ">=", "threshold": 3,
                                  "values": [4], "passed": True, "feedback_ids": ["fb-1"]}]}
_OUTCOME = {"command_id": "cmd-1", "command_type": "AdvanceApplication", "application_id": "app-1",
            "reason": None, "details": {"to_stage_id": "stg-3"}}

EXAMPLES: dict[tuple[str, int], dict[str, Any]] = {
    ("InterviewScheduleUpdated", 1): {"action": "interviewScheduleUpdate", "webhook_action_id": "wa-1",
                                      "schedule": _SCHEDULE},
    ("AshbyWebhookReceived", 1): {"action": "candidateStageChange", "webhook_action_id": "wa-2",
                                  "data": {"application": {"id": "app-1"}}},
    ("FeedbackSubmitted", 1): {"feedback_id": "fb-1", "application_id": "app-1",
                               "submitted_at": "2026-11-02T12:00:00Z", "submitted_by": "usr-1",
                               "interview_id": "int-1", "interview_event_id": "iev-1",
                               "form_definition_id": "form-1",
                               "values": [{"path": "overall", "value": {"score": 4}}]},
    ("FeedbackSubmitted", 2): {"feedback_id": "fb-1", "application_id": "app-1",
                               "submitted_at": "2026-11-02T12:00:00Z", "submitted_by_user_id": "usr-1",
                               "interview_id": "int-1", "interview_event_id": "iev-1",
                               "form_definition_id": "form-1", "submitted_values": {"overall": {"score": 4}},
                               "raw": {}},
    ("ApplicationSnapshotted", 1): {"application_id": "app-1", "candidate_id": "cand-1", "job_id": "job-1",
                                    "interview_plan_id": "plan-1", "current_stage_id": "stg-2", "status": "Active",
                                    "hiring_team": [{"userId": "usr-9", "role": "Recruiter"}],
                                    "fetched_at": "2026-11-02T12:00:01Z", "raw": {}},
    ("JobSynced", 1): {"record_id": "job-1", "data": {"id": "job-1", "title": "Engineer", "status": "Open"}},
    ("InterviewPlanSynced", 1): {"record_id": "plan-1", "data": {"id": "plan-1", "title": "Engineering", "stages": [
        {"id": "stg-2", "title": "Onsite", "type": "Active", "orderInInterviewPlan": 2, "interviewPlanId": "plan-1"}]}},
    ("FeedbackFormSynced", 1): {"record_id": "form-1", "data": {"id": "form-1", "title": "Onsite scorecard"}},
    ("InterviewSynced", 1): {"record_id": "int-1", "data": {"id": "int-1", "title": "System design",
                                                          "feedbackFormDefinitionId": "form-1"}},
    ("UserSynced", 1): {"record_id": "usr-1", "data": {"id": "usr-1", "globalRole": "Interviewer"}},
    ("ArchiveReasonSynced", 1): {"record_id": "ar-1", "data": {"id": "ar-1", "text": "Not a fit",
                                                             "reasonType": "RejectedByOrg", "isArchived": False}},
    ("RuleSetActivated", 1): {"version": 3, "document": {"name": "Engineering", "rules": []},
                              "activated_by": "admin"},
    ("EvaluationRequested", 1): {"application_id": "app-1", "requested_by": "admin"},
    # the pause switch (issue 17)
    ("EffectsPaused", 1): {"paused_by": "console (admin)", "reason": "Ashby sandbox migration"},
    ("EffectsResumed", 1): {"resumed_by": "cli (ops)", "reason": "migration done"},
    ("DecisionMade", 1): {"decision_id": "dec-1", "application_id": "app-1", "stage_id": "stg-2",
                          "rule_set_version": 3, "rule_id": "onsite-pass", "outcome": "advance", "mode": "live",
                          "dry_run": False, "target_stage_id": "stg-3", "archive_reason_id": None,
                          "command_id": "cmd-1", "explanation": _EXPLANATION, "decided_at": "2026-11-02T12:30:00Z"},
    ("RecruiterDecided", 1): {"proposal_command_id": "cmd-2", "application_id": "app-1", "choice": "archive",
                              "slack_user_id": "U123", "slack_user_name": None, "action_ts": "1700000000.1",
                              "channel": "D123", "message_ts": "1700000000.0001"},
    ("SlackMessagePosted", 1): {"command_id": "cmd-2", "application_id": "app-1", "channel": "D123",
                                "ts": "1700000000.0001"},
    # feedback nudges and stage SLAs (issue 21)
    ("FeedbackNudgeSent", 1): {"command_id": "cmd-5", "application_id": "app-1", "stage_id": "stg-2",
                               "interviewer_id": "usr-1", "interview_event_id": "iev-1", "interview_id": "int-1",
                               "due_at": "2026-11-03T11:00:00+00:00", "slack_user_id": "U456", "channel": "D456",
                               "ts": "1700000000.0005", "sent_at": "2026-11-03T11:00:02+00:00"},
    ("FeedbackEscalated", 1): {"command_id": "cmd-6", "application_id": "app-1", "stage_id": "stg-2",
                               "late": [{"interviewer_id": "usr-1", "interview_event_id": "iev-1",
                                         "interview_id": "int-1", "due_at": "2026-11-03T11:00:00+00:00"}],
                               "recipients": ["Recruiter", "Hiring Manager"], "channels": ["D123", "D789"],
                               "sent_at": "2026-11-04T11:00:01+00:00"},
    ("CommandAttempted", 1): {"command_id": "cmd-1", "command_type": "AdvanceApplication", "application_id": "app-1",
                              "attempt": 2, "replica": "executor-a/3f9c", "reconcile_first": "outcome_unknown"},
    ("CommandOutcomeUnknown", 1): {"command_id": "cmd-1", "command_type": "AdvanceApplication",
                                   "application_id": "app-1", "attempt": 1, "replica": "executor-a/3f9c",
                                   "endpoint": "application.changeStage", "reason": "timeout"},
    ("CommandReconciled", 1): {"command_id": "cmd-1", "command_type": "AdvanceApplication", "application_id": "app-1",
                               "attempt": 2, "replica": "executor-b/81d0", "verdict": "applied",
                               "current_stage_id": "stg-3", "application_status": "Active",
                               "archive_reason_id": None, "reason": "already in the target stage"},
    ("CommandSucceeded", 1): _OUTCOME,
    ("CommandSkipped", 1): {**_OUTCOME, "reason": "application left stage stg-2"},
    ("CommandFailed", 1): {**_OUTCOME, "reason": "Ashby 400 invalid_input"},
    # --- undo window for archives and merged/moved candidates (issue 21, parts 2 and 3) ---
    ("ArchiveScheduled", 1): {"command_id": "cmd-3", "application_id": "app-1", "decision_id": "dec-3",
                              "stage_id": "stg-2", "job_id": "job-1", "archive_reason_id": "ar-1",
                              "archive_email_template_id": None, "decided_by": "recruiter:U123",
                              "proposal_command_id": "cmd-2", "rule_id": "onsite-pass", "delay_s": 300.0,
                              "due_at": "2026-11-02T12:35:00Z",
                              "explanation": {"decided_by": "recruiter", "proposal_command_id": "cmd-2"}},
    ("ArchiveReleased", 1): {"command_id": "cmd-3", "application_id": "app-1", "due_at": "2026-11-02T12:35:00Z",
                             "released_at": "2026-11-02T12:35:00.2Z"},
    ("ArchiveUndoRequested", 1): {"archive_command_id": "cmd-3", "application_id": "app-1", "slack_user_id": "U123",
                                  "slack_user_name": None, "action_ts": "1700000100.1", "channel": "D123",
                                  "message_ts": "1700000000.0001"},
    ("ArchiveUndone", 1): {"command_id": "cmd-3", "application_id": "app-1", "undone_by": "U123",
                           "undone_at": "2026-11-02T12:31:10Z", "due_at": "2026-11-02T12:35:00Z"},
    ("ArchiveUndoRefused", 1): {"command_id": "cmd-3", "application_id": "app-1", "slack_user_id": "U123",
                                "reason": "too_late", "detail": "the undo window ended at 2026-11-02T12:35:00Z",
                                "released_at": "2026-11-02T12:35:00.2Z", "channel": "D123",
                                "message_ts": "1700000000.0001"},
    ("CandidateMerged", 1): {"webhook_action_id": "wa-9", "deleted_candidate_id": "cand-2",
                             "merged_candidate_id": "cand-1",
                             "data": {"deletedCandidate": {"id": "cand-2"}, "mergedCandidate": {"id": "cand-1"}}},
    ("ApplicationMerged", 1): {"application_id": "app-2", "surviving_application_id": "app-1",
                               "deleted_candidate_id": "cand-2", "merged_candidate_id": "cand-1", "job_id": "job-1",
                               "reason": "candidate cand-2 was merged into cand-1; application app-2 no longer "
                                         "exists, app-1 continues it"},
    ("DecisionsCancelled", 1): {"application_id": "app-2", "reason": "merged into application app-1",
                                "cause": "merged", "surviving_application_id": "app-1", "stage_id": "stg-2",
                                "cancelled_command_ids": ["cmd-4"],
                                "waiting_for": [{"kind": "feedback", "detail": "usr-1 has not submitted"}]},
    # privacy: erasure (issue 20, part 4)
    ("CandidateErased", 1): {"candidate_id": "cand-1", "erased_by": "admin", "reason": "request"},
}


def render_markdown() -> str:
    lines = ["# Event catalogue", "",
             "Generated from `contracts/` by `python -m contracts.catalogue > docs/events.md`; do not edit by hand.",
             "", "Every event travels in the envelope `event_id, event_type, schema_version, key, occurred_at,",
             "recorded_at, correlation_id, causation_id, source, payload` on subject `ev.<source>.<type>.<key>`.",
             "Older versions are read through upcasters (`contracts/upcasters.py`); the log is never rewritten.", "",
             "| event | version | producer | consumers | what it records |", "|---|---|---|---|---|"]
    for spec in EVENT_SPECS.values():
        lines.append(f"| `{spec.event_type}` | {spec.version} | {spec.producer} | {', '.join(spec.consumers)} "
                     f"| {spec.description} |")
    lines += ["", "## Commands (stream COMMANDS, subject `cmd.<target>.<verb>.<key>`)", "",
              "| command | subject | carried out by |", "|---|---|---|"]
    for c in COMMAND_SPECS.values():
        lines.append(f"| `{c.command_type}` | `cmd.{c.target}.{c.verb}.<application>` | "
                     f"{'executor' if c.target == 'ashby' else 'notifier'} |")
    lines += ["", "## Examples", ""]
    for (event_type, version), payload in EXAMPLES.items():
        lines += [f"### {event_type} v{version}", "", "```json", json.dumps(payload, indent=2), "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())

"""The story of one application as timeline entries: each logged event summarised with ids and
states only (no names, emails or feedback text; values appear only in decisions' explanations,
where a rule used them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_KIND = {"InterviewScheduleUpdated": "schedule", "AshbyWebhookReceived": "webhook",
         "FeedbackSubmitted": "feedback", "ApplicationSnapshotted": "snapshot", "EvaluationRequested": "operator",
         "DecisionMade": "decision", "RecruiterDecided": "recruiter", "SlackMessagePosted": "slack",
         "CommandSucceeded": "ok", "CommandSkipped": "skipped", "CommandFailed": "failed",
         "FeedbackNudgeSent": "nudge", "FeedbackEscalated": "nudge"}


@dataclass(frozen=True, slots=True)
class Entry:
    at: str | None
    event_type: str
    kind: str
    summary: str
    stream_seq: int
    decision_id: str | None = None


def stage_ids(events: list[dict[str, Any]], decisions: list[dict[str, Any]], view: dict[str, Any] | None,
              pending: list[dict[str, Any]]) -> set[str]:
    """The stages a story names (to look their titles up once for the whole page)."""
    found = {d[k] for d in decisions for k in ("stage_id", "target_stage_id") if d.get(k)}
    found |= {s for s in ((view or {}).get("current_stage_id"), *(p.get("stage_id") for p in pending)) if s}
    for e in events:
        p = e.get("payload") or {}
        for value in ((p.get("schedule") or {}).get("interviewStageId"), p.get("current_stage_id"), p.get("stage_id")):
            if isinstance(value, str):
                found.add(value)
    return found


def summarise(event_type: str, p: dict[str, Any], titles: dict[str, str] | None = None) -> str:
    """One line per event; a stage by its title when the interview-plan read model knows it."""
    titles = titles or {}

    def stage(stage_id: Any) -> Any:
        return titles.get(stage_id, stage_id) if isinstance(stage_id, str) else stage_id

    if event_type == "InterviewScheduleUpdated":
        s = p.get("schedule") or {}
        people = sorted({u for e in s.get("interviewEvents") or [] for u in e.get("interviewerUserIds") or []})
        return (f"Schedule {s.get('id')} is {s.get('status')} in stage {stage(s.get('interviewStageId'))}"
                + (f"; interviewers {', '.join(people)}" if people else ""))
    if event_type == "AshbyWebhookReceived":
        return f"Ashby webhook {p.get('action')}"
    if event_type == "FeedbackSubmitted":
        return (f"Feedback {p.get('feedback_id')} submitted by {p.get('submitted_by_user_id')} for interview "
                f"{p.get('interview_id')}")
    if event_type == "ApplicationSnapshotted":
        return (f"Ashby reports: {p.get('status')}, stage {stage(p.get('current_stage_id'))}, job {p.get('job_id')}, "
                f"plan {p.get('interview_plan_id')}")
    if event_type == "EvaluationRequested":
        return f"Evaluation requested by {p.get('requested_by') or 'an operator'}"
    if event_type == "DecisionMade":
        return (f"Decision: {p.get('outcome')} by rule {p.get('rule_id')} (rule set v{p.get('rule_set_version')}, "
                f"{p.get('mode')}{', dry run' if p.get('dry_run') else ''}) in stage {stage(p.get('stage_id'))}")
    if event_type == "RecruiterDecided":
        return f"Recruiter {p.get('slack_user_id')} chose {p.get('choice')!r} on the Slack proposal"
    if event_type == "SlackMessagePosted":
        return f"Slack message posted to {p.get('channel')} for command {p.get('command_id')}"
    if event_type == "FeedbackNudgeSent":
        return (f"Feedback nudge sent to interviewer {p.get('interviewer_id')} for interview "
                f"{p.get('interview_id')} (due {p.get('due_at')})")
    if event_type == "FeedbackEscalated":
        late = sorted({str(i.get("interviewer_id")) for i in p.get("late") or [] if isinstance(i, dict)})
        return (f"Late feedback escalated to {', '.join(p.get('recipients') or []) or 'nobody'}: "
                f"interviewer(s) {', '.join(late)}")
    if event_type in ("CommandSucceeded", "CommandSkipped", "CommandFailed"):
        verb = {"CommandSucceeded": "succeeded", "CommandSkipped": "skipped", "CommandFailed": "failed"}[event_type]
        return f"{p.get('command_type')} {verb}" + (f": {p.get('reason')}" if p.get("reason") else "")
    return event_type


def timeline(events: list[dict[str, Any]], titles: dict[str, str] | None = None) -> list[Entry]:
    """Log order (the order every consumer saw); `at` is the source's time of the fact."""
    return [Entry(e.get("occurred_at"), e["event_type"], _KIND.get(e["event_type"], "other"),
                  summarise(e["event_type"], e.get("payload") or {}, titles), e["stream_seq"],
                  (e.get("payload") or {}).get("decision_id") if e["event_type"] == "DecisionMade" else None)
            for e in events]

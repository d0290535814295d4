"""Building blocks for pipeline tests: the facts Ashby would give us about a small hiring plan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.envelope import Envelope
from contracts.ids import derive_id
from ingest.ashby_events import application_envelope, feedback_envelope, metadata_envelope
from support import schedule_payload

PLAN, JOB = "plan-1", "job-1"
STAGES = [
    {"id": "stage-screen", "title": "Screen", "type": "Active", "orderInInterviewPlan": 1, "interviewPlanId": PLAN},
    {"id": "stage-onsite", "title": "Onsite", "type": "Active", "orderInInterviewPlan": 2, "interviewPlanId": PLAN},
    {"id": "stage-offer", "title": "Offer", "type": "Offer", "orderInInterviewPlan": 3, "interviewPlanId": PLAN},
    {"id": "stage-archived", "title": "Archived", "type": "Archived", "orderInInterviewPlan": 99,
     "interviewPlanId": PLAN},
]
REASON = "reason-not-a-fit"


def rules(*, quiet: str = "0s", timeout: str = "7d", mode: str = "live", threshold: int = 3,
          dry_run: bool = False) -> dict[str, Any]:
    return {"name": "test rules", "dry_run": dry_run, "rules": [{
        "id": "screen-rule", "interview_plan_id": PLAN, "stage_id": "stage-screen",
        "requirements": [{"interview_id": "interview-1", "field": "overall", "operator": ">=",
                          "threshold": threshold}],
        "on_pass": {"action": "advance"},
        "on_fail": {"action": "propose_rejection", "archive_reason_id": REASON},
        "quiet_period": quiet, "timeout": timeout, "mode": mode}]}


def now() -> datetime:
    return datetime.now(UTC)


def catalog_events() -> list[Envelope]:
    return [metadata_envelope("interview_plan", {"id": PLAN, "title": "Plan", "stages": STAGES}, now()),
            metadata_envelope("archive_reason", {"id": REASON, "text": "Not a fit", "reasonType": "RejectedByOrg",
                                                 "isArchived": False}, now())]


def snapshot(app: str, stage: str = "stage-screen", status: str = "Active") -> Envelope:
    info = {"id": app, "status": status, "updatedAt": now().isoformat(), "candidate": {"id": f"cand-{app}"},
            "job": {"id": JOB}, "currentInterviewStage": {"id": stage, "interviewPlanId": PLAN},
            "hiringTeam": [{"userId": "recruiter-1", "role": "Recruiter"}]}
    return application_envelope(info, now())


def schedule(app: str, status: str = "WaitingOnFeedback", interviewers: tuple[str, ...] = ("u1", "u2")) -> Envelope:
    raw = schedule_payload(app, status=status, stage_id="stage-screen", interviewers=list(interviewers),
                           updated_at=now().isoformat())["data"]["interviewSchedule"]
    raw["createdAt"] = now().isoformat()
    return Envelope(event_id=derive_id("test-schedule", app, status, raw["updatedAt"]),
                    event_type="InterviewScheduleUpdated", key=app, occurred_at=now(), recorded_at=now(),
                    source="ashby", payload={"action": "interviewScheduleUpdate", "schedule": raw})


def feedback(app: str, user: str, score: Any) -> Envelope:
    item = {"id": f"fb-{app}-{user}", "applicationId": app, "submittedAt": now().isoformat(),
            "submittedByUser": {"id": user}, "interviewId": "interview-1", "interviewEventId": f"ev-sched-{app}",
            "formDefinition": {"id": "form-1"}, "submittedValues": {"overall": score}}
    return feedback_envelope(item, now())

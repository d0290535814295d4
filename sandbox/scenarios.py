"""Ready-made sandbox scenarios and the rule set that goes with them (the demo and the tests use these)."""

from __future__ import annotations

from typing import Any

from sandbox.ashby import sandbox_id

Json = dict[str, Any]

RECRUITER_EMAIL = "rita.recruiter@example.com"
PLAN = "eng"
STAGES = [
    {"key": "review", "title": "Application Review", "type": "PreInterviewScreen"},
    {"key": "technical", "title": "Technical Interview", "type": "Active"},
    {"key": "onsite", "title": "Onsite", "type": "Active"},
    {"key": "offer", "title": "Offer", "type": "Offer"},
    {"key": "hired", "title": "Hired", "type": "Hired"},
    {"key": "archived", "title": "Archived", "type": "Archived"},
]


def stage(key: str, plan: str = PLAN) -> str:
    return sandbox_id("stage", plan, key)


def base_scenario(applications: list[Json] | None = None) -> Json:
    """One job on one plan, a recruiter and two interviewers, a technical scorecard, an archive reason."""
    return {
        "users": [
            {"key": "rita", "first_name": "Rita", "last_name": "Recruiter", "email": RECRUITER_EMAIL},
            {"key": "ivan", "first_name": "Ivan", "last_name": "Interviewer", "email": "ivan@example.com"},
            {"key": "iris", "first_name": "Iris", "last_name": "Interviewer", "email": "iris@example.com"},
        ],
        "archive_reasons": [{"key": "not-a-fit", "text": "Not a fit for the role"}],
        "forms": [{"key": "technical", "title": "Technical scorecard", "fields": [
            {"path": "overall_recommendation", "title": "Overall recommendation", "type": "Score"},
            {"path": "would_hire", "title": "Would you hire?", "type": "Boolean", "required": False},
        ]}],
        "interviews": [{"key": "technical", "title": "Technical interview", "form": "technical"}],
        "plans": [{"key": PLAN, "title": "Engineering", "stages": STAGES}],
        "jobs": [{"key": "backend", "title": "Backend Engineer", "plan": PLAN, "recruiter": "rita"}],
        "applications": applications or [],
    }


def demo_scenario() -> Json:
    """The demo: two candidates in the technical stage (their schedules and feedback come later)."""
    return base_scenario([
        {"key": "strong", "candidate": "Sam Strong", "job": "backend", "stage": "technical"},
        {"key": "weak", "candidate": "Wes Weak", "job": "backend", "stage": "technical"},
    ])


def technical_schedule(key: str, application: str, status: str) -> Json:
    return {"key": key, "application": application, "status": status,
            "interviews": [{"interview": "technical", "interviewers": ["ivan", "iris"]}]}


def demo_rules(*, quiet_period: str = "0s", mode: str = "live", dry_run: bool = False) -> Json:
    """Technical interview: both interviewers must score 3 or more; pass → the next stage, fail → ask
    the recruiter in Slack to archive with "Not a fit"."""
    return {
        "name": "Sandbox engineering rules",
        "dry_run": dry_run,
        "defaults": {"quiet_period": quiet_period, "timeout": "7d"},
        "rules": [{
            "id": "technical-interview",
            "interview_plan_id": sandbox_id("plan", PLAN),
            "stage_id": stage("technical"),
            "requirements": [{"interview_id": sandbox_id("interview", "technical"), "field": "overall_recommendation",
                              "operator": ">=", "threshold": 3, "aggregate": "all"}],
            "on_pass": {"action": "advance"},
            "on_fail": {"action": "propose_rejection", "archive_reason_id": sandbox_id("archive-reason", "not-a-fit")},
            "mode": mode,
        }],
    }

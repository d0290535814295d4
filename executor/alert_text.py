"""The admin alert for a command that ended in failure (pure): who, where, what was tried, why.

Job and stage titles come from `application.info` as the executor last read it; ids stand in for
anything not known. The candidate is named by a token (`contracts.pii.candidate_token`) that the
notifier turns into the name as the privacy vault gives it when posting ("(erased)" after erasure),
so the command on the stream carries no name. No email address or phone number is ever placed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.pii import candidate_token

ASHBY_APP_URL = "https://app.ashbyhq.com"


@dataclass(frozen=True, slots=True)
class ApplicationContext:
    """What the executor knows about an application from Ashby, for people to read."""

    candidate_id: str | None = None
    job_title: str | None = None
    stage_title: str | None = None
    stage_id: str | None = None
    stage_titles: Mapping[str, str] | None = None
    """Titles of the plan's stages by id, when the executor listed them."""

    @classmethod
    def from_info(cls, info: Mapping[str, Any], stages: list[dict[str, Any]] | None = None) -> ApplicationContext:
        candidate = info.get("candidate") or {}
        stage = info.get("currentInterviewStage") or {}
        titles = {str(s["id"]): str(s.get("title")) for s in stages or [] if s.get("id") and s.get("title")}
        return cls(candidate_id=candidate.get("id"),
                   job_title=(info.get("job") or {}).get("title"), stage_title=stage.get("title"),
                   stage_id=stage.get("id"), stage_titles=titles or None)


def application_url(application_id: str, candidate_id: str | None) -> str:
    if candidate_id:
        return f"{ASHBY_APP_URL}/candidates/{candidate_id}?applicationId={application_id}"
    return f"{ASHBY_APP_URL}/applications/{application_id}"


def _stage(ctx: ApplicationContext, stage_id: str | None) -> str:
    if not stage_id:
        return "an unknown stage"
    if ctx.stage_titles and stage_id in ctx.stage_titles:
        return f"{ctx.stage_titles[stage_id]}"
    if stage_id == ctx.stage_id and ctx.stage_title:
        return ctx.stage_title
    return f"stage {stage_id}"


def attempted(command_type: str, payload: Mapping[str, Any], ctx: ApplicationContext) -> str:
    """What the command was trying to do, in words."""
    if command_type == "AdvanceApplication":
        return (f"advance from {_stage(ctx, payload.get('from_stage_id'))} "
                f"to {_stage(ctx, payload.get('to_stage_id'))}")
    if command_type == "ArchiveApplication":
        by = str(payload.get("decided_by") or "")
        who = " (asked by a recruiter in Slack)" if by.startswith("recruiter:") else ""
        return (f"archive from {_stage(ctx, payload.get('from_stage_id'))} with archive reason "
                f"{payload.get('archive_reason_id')}{who}")
    return command_type


def failed_command_alert(command_type: str, payload: Mapping[str, Any], ctx: ApplicationContext, reason: str,
                         *, dlq_seq: int | None = None) -> str:
    """The alert text: candidate, job, stage, what was attempted, why it failed, link, next step."""
    app_id = str(payload.get("application_id") or "?")
    name = candidate_token(ctx.candidate_id) or f"application {app_id}"
    job = ctx.job_title or "an unknown job"
    lines = [
        f"Could not {attempted(command_type, payload, ctx)} for *{name}* ({job}, now in "
        f"{_stage(ctx, ctx.stage_id or payload.get('from_stage_id'))}).",
        f"Why: {reason[:400]}",
        f"Application: {application_url(app_id, ctx.candidate_id)}",
        f"Command {command_type} {payload.get('command_id')}"
        + (f" from rule {payload['rule_id']} (rule set v{payload.get('rule_set_version')})"
           if payload.get("rule_id") else ""),
    ]
    if dlq_seq is not None:
        lines.append(f"It is DLQ #{dlq_seq}: after fixing the cause, `autoadvance dlq retry {dlq_seq}`.")
    return "\n".join(lines)

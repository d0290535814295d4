"""Carrying out feedback nudges and escalations (issue 21): who the people are (Ashby), where they
are in Slack (email lookup, cached), the message, and the event that says it was sent.

An interviewer with no Slack account for their Ashby email is not nudged: `CommandSkipped` with the
reason (the escalation, later, still tells the recruiter). An escalation goes to the recruiter
(else the coordinator) and the hiring manager by DM; when neither is in Slack, to the fallback
channel, as a proposal would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import structlog

from contracts.envelope import Envelope
from contracts.events import FeedbackEscalated, FeedbackNudgeSent
from contracts.ids import derive_id
from contracts.outcomes import outcome_event
from notifier import store
from notifier.dedupe import OncePoster
from notifier.nudge_message import build_escalation, build_nudge, feedback_url
from notifier.slack import RecruiterDirectory

log = structlog.get_logger(__name__)
NUDGE_COMMANDS = frozenset({"NudgeInterviewer", "EscalateFeedback"})


class AshbyCalls(Protocol):
    async def call(self, endpoint: str, body: dict[str, Any]) -> Any: ...


class Publisher(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


async def carry_out(pool: asyncpg.Pool, poster: OncePoster, ashby: AshbyCalls, directory: RecruiterDirectory,
                    publisher: Publisher, cmd: Envelope, now: Callable[[], datetime], fallback_channel: str, *,
                    look_first: bool) -> None:
    """`look_first`: a redelivery: a message an earlier attempt posted (found by its metadata) is
    adopted instead of posted again (`notifier/dedupe.py`)."""
    if cmd.event_type == "NudgeInterviewer":
        await _nudge(pool, poster, ashby, directory, publisher, cmd, now, look_first)
    else:
        await _escalate(pool, poster, ashby, directory, publisher, cmd, now, fallback_channel, look_first)


async def _nudge(pool: asyncpg.Pool, poster: OncePoster, ashby: AshbyCalls, directory: RecruiterDirectory,
                 publisher: Publisher, cmd: Envelope, now: Callable[[], datetime], look_first: bool) -> None:
    p = cmd.payload
    user = await ashby.call("user.info", {"userId": p["interviewer_id"]}) or {}
    recipient = await directory.resolve(user.get("email"), time.monotonic())
    if recipient.user_id is None:
        await _skip(pool, publisher, cmd, now(), "the interviewer has no Slack account for their Ashby email")
        return
    info = await ashby.call("application.info", {"applicationId": p["application_id"]}) or {}
    candidate = info.get("candidate") or {}
    text, blocks = build_nudge(candidate_name=candidate.get("name"),
                               interview_title=await _interview_title(ashby, p.get("interview_id")),
                               due_at=p["due_at"], interviewer_slack_id=recipient.user_id,
                               link=feedback_url(p.get("feedback_link"), candidate.get("id"), p["application_id"]))
    posted = await poster.post(recipient.channel, text, blocks, command_id=p["command_id"],
                               command_type=cmd.event_type, look_first=look_first)
    async with pool.acquire() as conn:
        await store.posted(conn, p["command_id"], posted.channel, posted.ts)
    at = now()
    event = FeedbackNudgeSent(command_id=p["command_id"], application_id=p["application_id"], stage_id=p["stage_id"],
                              interviewer_id=p["interviewer_id"], interview_event_id=p["interview_event_id"],
                              interview_id=p.get("interview_id"), due_at=p["due_at"],
                              slack_user_id=recipient.user_id, channel=posted.channel, ts=posted.ts,
                              sent_at=at.isoformat())
    await publisher.publish_event(_event(cmd, "FeedbackNudgeSent", event.model_dump(), at))
    log.info("feedback_nudge_sent", command_id=p["command_id"], key=cmd.key)


_ESCALATE_TO = (("Recruiter", ("Recruiter", "Coordinator")), ("Hiring Manager", ("Hiring Manager",)))


async def _escalate(pool: asyncpg.Pool, poster: OncePoster, ashby: AshbyCalls, directory: RecruiterDirectory,
                    publisher: Publisher, cmd: Envelope, now: Callable[[], datetime], fallback_channel: str,
                    look_first: bool) -> None:
    p = cmd.payload
    info = await ashby.call("application.info", {"applicationId": p["application_id"]}) or {}
    candidate = info.get("candidate") or {}
    late = p.get("late") or []
    names = await ashby_user_names(ashby, sorted({str(i["interviewer_id"]) for i in late}))
    titles = {str(i): t for i in {x.get("interview_id") for x in late} if i and (t := await _interview_title(ashby, i))}
    text, blocks = build_escalation(candidate_name=candidate.get("name"), job_title=(info.get("job") or {}).get("title"),
                                    stage_title=(info.get("currentInterviewStage") or {}).get("title"), late=late,
                                    names=names, interview_titles=titles,
                                    url=feedback_url(None, candidate.get("id"), p["application_id"]))
    targets: dict[str, str] = {}  # channel → role told
    for label, roles in _ESCALATE_TO:
        member = _member(info.get("hiringTeam") or [], roles)
        recipient = await directory.resolve(member.get("email") if member else None, time.monotonic())
        if recipient.user_id is not None:
            targets.setdefault(recipient.channel, label)
    if not targets:
        targets[fallback_channel] = "fallback channel"
    channels = []
    for channel in targets:
        posted = await poster.post(channel, text, blocks, command_id=p["command_id"], command_type=cmd.event_type,
                                   look_first=look_first)
        channels.append(posted.channel)
    async with pool.acquire() as conn:
        await store.posted(conn, p["command_id"], channels[0], "")
    at = now()
    event = FeedbackEscalated(command_id=p["command_id"], application_id=p["application_id"], stage_id=p["stage_id"],
                              late=late, recipients=list(targets.values()), channels=channels, sent_at=at.isoformat())
    await publisher.publish_event(_event(cmd, "FeedbackEscalated", event.model_dump(), at))
    log.info("feedback_escalated", command_id=p["command_id"], key=cmd.key, recipients=len(channels))


def _member(team: list[dict[str, Any]], roles: tuple[str, ...]) -> dict[str, Any] | None:
    for role in roles:
        for member in team:
            if member.get("role") == role and member.get("email"):
                return member
    return None


async def ashby_user_names(ashby: AshbyCalls, user_ids: list[str], *, limit: int = 30) -> dict[str, str]:
    """First and last names (never the email) of Ashby users from `user.info`, for display only: one
    Ashby cannot name now is left out (and shown by id)."""
    names: dict[str, str] = {}
    for user_id in user_ids[:limit]:
        try:
            user = await ashby.call("user.info", {"userId": user_id}) or {}
        except Exception as exc:  # noqa: BLE001 - a name is display only; the id is shown instead
            log.warning("interviewer_name_unavailable", user_id=user_id, error=type(exc).__name__)
            continue
        name = " ".join(str(user.get(k) or "").strip() for k in ("firstName", "lastName")).strip()
        if name:
            names[user_id] = name
    return names


async def _interview_title(ashby: AshbyCalls, interview_id: str | None) -> str | None:
    if not interview_id:
        return None
    try:
        interview = await ashby.call("interview.info", {"id": interview_id}) or {}
    except Exception as exc:  # noqa: BLE001 - the title is display only
        log.warning("interview_title_unavailable", interview_id=interview_id, error=type(exc).__name__)
        return None
    title = interview.get("title")
    return str(title) if title else None


async def _skip(pool: asyncpg.Pool, publisher: Publisher, cmd: Envelope, at: datetime, reason: str) -> None:
    async with pool.acquire() as conn:
        await store.skipped(conn, cmd.payload["command_id"])
    await publisher.publish_event(outcome_event("CommandSkipped", cmd, "notifier", at, reason=reason))
    log.info("feedback_nudge_skipped", command_id=cmd.payload["command_id"], key=cmd.key)


def _event(cmd: Envelope, event_type: str, payload: dict[str, Any], at: datetime) -> Envelope:
    return Envelope(event_id=derive_id(event_type, cmd.payload["command_id"]), event_type=event_type, key=cmd.key,
                    occurred_at=at, recorded_at=at, correlation_id=cmd.correlation_id, causation_id=cmd.event_id,
                    source="notifier", payload=payload)

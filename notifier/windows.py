"""Slack side of an archive's undo window (issue 21): the message shows the window (with Undo)
while it is open, then what became of it; a rule's own archive gets a message of its own; an Undo
that came too late is answered (ephemeral) with what really happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from contracts.consumers import Delivered
from contracts.envelope import Envelope, parse_time
from contracts.errors import PermanentError
from contracts.events import SlackMessagePosted
from contracts.ids import derive_id
from contracts.pii import candidate_token
from notifier import store
from notifier.handlers import (
    AshbyCalls,
    CandidateNames,
    Publisher,
    _interviewer_names,
    _named,
    _recruiter_email,
    _show,
    no_names,
)
from notifier.message import build_archive_notice, build_undo_refused, build_window
from notifier.slack import RecruiterDirectory, SlackApi

log = structlog.get_logger(__name__)
WINDOWS_DURABLE = "notifier-archive-windows-v1"
WINDOW_EVENTS = frozenset({"ArchiveScheduled", "ArchiveReleased", "ArchiveUndone", "ArchiveUndoRefused",
                           "DecisionsCancelled"})


def window_handler(slack: SlackApi, ashby: AshbyCalls, publisher: Publisher, *, fallback_channel: str,
                   names: CandidateNames = no_names, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
    directory = RecruiterDirectory(slack, fallback_channel=fallback_channel)

    async def on_event(pool: asyncpg.Pool, d: Delivered) -> None:
        env = d.envelope
        p = env.payload
        if env.event_type == "ArchiveScheduled":
            await _scheduled(pool, slack, ashby, publisher, directory, env, fallback_channel, names, clock)
        elif env.event_type == "ArchiveReleased":
            await _settled(pool, slack, names, p["command_id"], "released", None, None)
        elif env.event_type == "ArchiveUndone":
            await _settled(pool, slack, names, p["command_id"], "undone", p.get("undone_by"), None)
        elif env.event_type == "DecisionsCancelled":
            for command_id in p.get("cancelled_command_ids") or []:
                if not await _settled(pool, slack, names, command_id, "cancelled", None, p.get("reason")):
                    await _superseded(pool, slack, names, command_id,
                                      str(p.get("reason") or "it no longer applies"))
        elif env.event_type == "ArchiveUndoRefused":
            await _refused(pool, slack, names, p)

    return on_event


async def _settled(pool: asyncpg.Pool, slack: SlackApi, names: CandidateNames, command_id: str, state: str,
                   by: str | None, reason: str | None) -> bool:
    async with pool.acquire() as conn:
        row = await store.settle_window(conn, command_id, state, by, reason)
    if row is None:  # no message shows this window, or it was settled before (a redelivery)
        return False
    await _show(slack, row, names)
    log.info("archive_window_shown", command_id=command_id, state=state)
    return True


async def _superseded(pool: asyncpg.Pool, slack: SlackApi, names: CandidateNames, command_id: str,
                      reason: str) -> None:
    """An unanswered proposal of an application merged away or moved: no buttons, and why."""
    async with pool.acquire() as conn:
        row = await store.supersede_proposal(conn, command_id, f"this proposal no longer applies: {reason}")
    if row is not None:
        await _show(slack, row, names)
        log.info("proposal_superseded", command_id=command_id)


async def _refused(pool: asyncpg.Pool, slack: SlackApi, names: CandidateNames, p: dict[str, Any]) -> None:
    async with pool.acquire() as conn:
        row = await store.by_archive(conn, p["command_id"])
    channel = p.get("channel") or (row["channel"] if row else None)
    text = build_undo_refused(p["reason"], p["detail"], row["outcome"] if row else None,
                              row["outcome_reason"] if row else None)
    if row is not None:  # the message itself as it truly stands now
        await _show(slack, row, names)
    if channel:
        try:
            await slack.post_ephemeral(channel, p["slack_user_id"], text)
        except PermanentError as exc:  # e.g. the user left the channel: the message still tells the truth
            log.warning("undo_refusal_not_told", command_id=p["command_id"], error=type(exc).__name__)
    log.info("archive_undo_refused_shown", command_id=p["command_id"], reason=p["reason"])


async def _scheduled(pool: asyncpg.Pool, slack: SlackApi, ashby: AshbyCalls, publisher: Publisher,
                     directory: RecruiterDirectory, env: Envelope, fallback_channel: str, names: CandidateNames,
                     clock: Callable[[], datetime]) -> None:
    """A recruiter's archive: its proposal shows the window. A rule's own archive: one new message
    to the recruiter (claimed in the inbox under a derived id, so a redelivery does not post twice)."""
    p = env.payload
    due = parse_time(p["due_at"])
    if p.get("proposal_command_id"):
        async with pool.acquire() as conn:
            row = await store.schedule_window(conn, p["proposal_command_id"], p["command_id"], due)
        if row is not None:
            await _show(slack, row, names)
            return
    notice_id = derive_id("archive-notice", p["command_id"])
    async with pool.acquire() as conn:
        earlier = await store.claim(conn, notice_id, "ArchiveNotice", p["application_id"])
    if earlier == "posted":
        return
    info = await ashby.call("application.info", {"applicationId": p["application_id"]})
    candidate = info.get("candidate") or {}
    recipient = await directory.resolve(_recruiter_email(info), time.monotonic())
    explanation = p.get("explanation") or {}
    _, base = build_archive_notice(  # the stored copy names the candidate by token only; Slack gets the name
        application_id=p["application_id"], candidate_name=candidate_token(candidate.get("id")) or candidate.get("name"),
        job_title=(info.get("job") or {}).get("title"),
        stage_title=(info.get("currentInterviewStage") or {}).get("title"), explanation=explanation,
        candidate_id=candidate.get("id"), recruiter_user_id=recipient.user_id, rule_label=p.get("rule_id"),
        interviewer_names=await _interviewer_names(ashby, explanation))
    text, blocks = build_window(base, state="scheduled", application_id=p["application_id"],
                                archive_command_id=p["command_id"], due_at=p["due_at"], asked_by=None)
    shown_text, shown_blocks = await _named(names, text, blocks, {str(candidate.get("id")): candidate.get("name")})
    posted = await slack.post_message(recipient.channel or fallback_channel, shown_text, shown_blocks)
    async with pool.acquire() as conn:
        await store.save_notice(conn, p["command_id"], p["application_id"], posted.channel, posted.ts, text, base,
                                due)
        await store.posted(conn, notice_id, posted.channel, posted.ts)
    now = clock()
    await publisher.publish_event(Envelope(
        event_id=derive_id("slack-posted", notice_id), event_type="SlackMessagePosted", key=env.key,
        occurred_at=now, recorded_at=now, correlation_id=env.correlation_id, causation_id=env.event_id,
        source="notifier", payload=SlackMessagePosted(command_id=notice_id, application_id=p["application_id"],
                                                      channel=posted.channel, ts=posted.ts).model_dump()))
    log.info("archive_notice_posted", command_id=p["command_id"], key=env.key)

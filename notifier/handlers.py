"""Slack effects: rejection proposals to the job's recruiter, admin alerts, and the message update
after a recruiter's click. One message per command id; outcomes are events.

A proposal is recorded as 'started' before posting. If the process dies after Slack accepted the
message and before it was recorded, the redelivered command first looks for the earlier message
by its metadata and adopts it (notifier/dedupe.py, docs/decisions/0006-slack-dedupe-by-metadata.md);
only when Slack will not show the history does it post again (at-least-once, decision 0002): a
duplicate is harmless because both carry the same proposal id and only the first click counts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import orjson
import structlog

from contracts.consumers import DeadLetter, Delivered
from contracts.envelope import Envelope
from contracts.errors import PermanentError
from contracts.events import SlackMessagePosted
from contracts.ids import derive_id
from contracts.outcomes import alert_command, outcome_event
from contracts.pii import candidate_token, fill_candidate_names, token_ids
from notifier import store
from notifier.dedupe import OncePoster
from notifier.message import (
    build_alert,
    build_already_decided,
    build_archive_outcome,
    build_decided,
    build_proposal,
    build_window,
)
from notifier.nudges import NUDGE_COMMANDS, ashby_user_names, carry_out
from notifier.slack import RecruiterDirectory, SlackApi

log = structlog.get_logger(__name__)
COMMANDS_DURABLE = "notifier-slack-v1"
CLICKS_DURABLE = "notifier-clicks-v1"
OUTCOMES_DURABLE = "notifier-archive-outcomes-v1"


class AshbyCalls(Protocol):
    async def call(self, endpoint: str, body: dict[str, Any]) -> Any: ...


class Publisher(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...
    async def publish(self, subject: str, envelope: Envelope) -> tuple[int, bool]: ...


CandidateNames = Callable[[Iterable[str]], Awaitable[dict[str, str]]]
"""The one lookup of candidates' names for people (privacy's vault, wired by runtime): "(erased)"
after erasure, absent when unknown."""


async def no_names(candidate_ids: Iterable[str]) -> dict[str, str]:
    return {}


async def _named(names: CandidateNames, text: str, blocks: list[dict[str, Any]],
                 fallback: dict[str, str | None] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Text and blocks as Slack shows them: each candidate token replaced by the name the lookup gives
    (or, when it knows none, the one Ashby gave just now). Stored copies keep the tokens."""
    ids = token_ids(text) | token_ids(orjson.dumps(blocks).decode())
    if not ids:
        return text, blocks
    shown = {**{k: v for k, v in (fallback or {}).items() if v}, **await names(ids)}
    return fill_candidate_names(text, shown), fill_candidate_names(blocks, shown)


def _recruiter_email(info: dict[str, Any]) -> str | None:
    team = info.get("hiringTeam") or []
    for role in ("Recruiter", "Coordinator", "Hiring Manager"):
        for member in team:
            if member.get("role") == role and member.get("email"):
                return member["email"]
    return None


def command_handler(slack: SlackApi, ashby: AshbyCalls, publisher: Publisher, *, admin_channel: str,
                    fallback_channel: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                    names: CandidateNames = no_names):
    directory = RecruiterDirectory(slack, fallback_channel=fallback_channel)
    poster = OncePoster(slack)

    async def notify(pool: asyncpg.Pool, d: Delivered) -> None:
        cmd = d.envelope
        p = cmd.payload
        async with pool.acquire() as conn:
            earlier = await store.claim(conn, p["command_id"], cmd.event_type, p.get("application_id"))
        if earlier in ("posted", "skipped") or (earlier == "failed" and not d.retried):
            log.info("slack_command_already_done", command_id=p["command_id"], status=earlier)
            return
        # an earlier attempt may have posted without living to record it: look before posting again
        look_first = earlier is not None or d.num_delivered > 1
        try:
            if cmd.event_type in NUDGE_COMMANDS:  # feedback nudges (issue 21): their own message and event
                await carry_out(pool, poster, ashby, directory, publisher, cmd, clock, fallback_channel,
                                look_first=look_first)
                return
            if cmd.event_type == "ProposeRejection":
                channel, ts = await _propose(pool, poster, ashby, directory, cmd, fallback_channel, names,
                                             look_first)
            elif cmd.event_type == "SendAlert":
                text, blocks = await _named(names, *build_alert(p["kind"], p["text"], p.get("application_id")))
                posted = await poster.post(admin_channel, text, blocks, command_id=p["command_id"],
                                           command_type=cmd.event_type, look_first=look_first)
                channel, ts = posted.channel, posted.ts
            else:
                raise PermanentError(f"the notifier does not carry out {cmd.event_type}")
        except PermanentError:  # the runtime dead-letters it; `dead_letter_hook` records and alerts
            async with pool.acquire() as conn:
                await store.failed(conn, p["command_id"])
            raise
        async with pool.acquire() as conn:
            await store.posted(conn, p["command_id"], channel, ts)
        now = clock()
        posted_event = Envelope(
            event_id=derive_id("slack-posted", p["command_id"]), event_type="SlackMessagePosted", key=cmd.key,
            occurred_at=now, recorded_at=now, correlation_id=cmd.correlation_id, causation_id=cmd.event_id,
            source="notifier", payload=SlackMessagePosted(command_id=p["command_id"],
                                                          application_id=p.get("application_id"),
                                                          channel=channel, ts=ts).model_dump())
        await publisher.publish_event(posted_event)
        log.info("slack_message_posted", command_id=p["command_id"], command_type=cmd.event_type, key=cmd.key)

    return notify


async def _propose(pool: asyncpg.Pool, poster: OncePoster, ashby: AshbyCalls, directory: RecruiterDirectory,
                   cmd: Envelope, fallback_channel: str, names: CandidateNames, look_first: bool) -> tuple[str, str]:
    """The stored copy of the proposal names the candidate by token only; Slack gets the name."""
    p = cmd.payload
    info = await ashby.call("application.info", {"applicationId": p["application_id"]})
    candidate = info.get("candidate") or {}
    stage = info.get("currentInterviewStage") or {}
    recipient = await directory.resolve(_recruiter_email(info), time.monotonic())
    token = candidate_token(candidate.get("id"))
    text, blocks = build_proposal(
        command_id=p["command_id"], application_id=p["application_id"],
        candidate_name=token or candidate.get("name"),
        job_title=(info.get("job") or {}).get("title"), stage_title=stage.get("title"),
        explanation=p.get("explanation") or {}, candidate_id=candidate.get("id"),
        recruiter_user_id=recipient.user_id, rule_label=p.get("rule_id"),
        interviewer_names=await _interviewer_names(ashby, p.get("explanation") or {}))
    shown_text, shown_blocks = await _named(names, text, blocks, {str(candidate.get("id")): candidate.get("name")})
    posted = await poster.post(recipient.channel or fallback_channel, shown_text, shown_blocks,
                               command_id=p["command_id"], command_type=cmd.event_type, look_first=look_first)
    async with pool.acquire() as conn:
        await store.save_proposal(conn, p["command_id"], p["application_id"], posted.channel, posted.ts, text, blocks)
    return posted.channel, posted.ts


def dead_letter_hook(publisher: Publisher, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
    async def on_dead_letter(pool: asyncpg.Pool, dead: DeadLetter) -> None:
        """A Slack command given up on: `CommandFailed` on the story and, unless it was itself an
        alert (that would loop; /health shows it), one alert to the admins through a new command."""
        if dead.delivered is None:
            return
        cmd = dead.delivered.envelope
        p = cmd.payload
        now = clock()
        await publisher.publish_event(outcome_event("CommandFailed", cmd, "notifier", now, reason=dead.reason[:500],
                                                    details={"dlq_seq": dead.dlq_seq}))
        async with pool.acquire() as conn:
            await store.failed(conn, p["command_id"])
        if cmd.event_type != "SendAlert":
            text = (f"Could not post {cmd.event_type} {p['command_id']} to Slack for application "
                    f"{p.get('application_id')} (stage {p.get('stage_id')}, rule {p.get('rule_id')}). "
                    f"Why: {dead.reason[:400]}. It is DLQ #{dead.dlq_seq}: after fixing the cause, "
                    f"`autoadvance dlq retry {dead.dlq_seq}`.")
            await publisher.publish(*alert_command("slack_failed", text, cmd, now,
                                                   application_id=p.get("application_id")))
        log.error("slack_command_dead_lettered", command_id=p["command_id"], dlq_seq=dead.dlq_seq)

    return on_dead_letter


def archive_outcome_handler(slack: SlackApi, names: CandidateNames = no_names):
    async def on_outcome(pool: asyncpg.Pool, d: Delivered) -> None:
        """Tell the recruiter what Ashby did with the archive they asked for (archived / failed with
        the reason / skipped), on the proposal message itself."""
        env = d.envelope
        outcome = _ARCHIVE_OUTCOME.get(env.event_type)
        p = env.payload
        if outcome is None or p.get("command_type") != "ArchiveApplication" or not p.get("application_id"):
            return
        async with pool.acquire() as conn:
            proposal = await store.archive_outcome(conn, p["application_id"], outcome, p.get("reason"))
        if proposal is None:  # an archive no recruiter was asked about (an automatic rule)
            return
        await _show(slack, proposal, names)
        log.info("proposal_outcome_shown", command_id=proposal["command_id"], outcome=outcome)

    return on_outcome


_ARCHIVE_OUTCOME = {"CommandSucceeded": "succeeded", "CommandFailed": "failed", "CommandSkipped": "skipped"}


async def _show(slack: SlackApi, proposal: Any, names: CandidateNames) -> None:
    """The proposal as its row says it stands: Ashby's answer once known, else the click (with the
    candidate's name as the lookup gives it now: "(erased)" after erasure)."""
    if proposal["outcome"]:
        text, blocks = build_archive_outcome(proposal["blocks"], proposal["decided_by"], proposal["outcome"],
                                             proposal["outcome_reason"])
    elif proposal["window_state"]:  # an archive with an undo window that Ashby has not answered yet
        due = proposal["archive_due_at"]
        text, blocks = build_window(proposal["blocks"], state=proposal["window_state"],
                                    application_id=proposal["application_id"],
                                    archive_command_id=proposal["archive_command_id"],
                                    due_at=due.isoformat() if due else None, asked_by=proposal["decided_by"],
                                    settled_by=proposal["window_by"], reason=proposal["window_reason"])
    else:
        text, blocks = build_decided(proposal["blocks"], proposal["decided_by"], proposal["choice"])
    await slack.update_message(proposal["channel"], proposal["ts"], *await _named(names, text, blocks))


async def _interviewer_names(ashby: AshbyCalls, explanation: dict[str, Any]) -> dict[str, str]:
    """Names (first and last only, never the email) of the interviewers whose feedback a proposal
    shows, from Ashby's `user.info`; an interviewer Ashby cannot name now is shown by id."""
    ids = sorted({str(c["submitted_by"]) for r in explanation.get("requirements") or [] if isinstance(r, dict)
                  for c in r.get("checks") or [] if isinstance(c, dict) and c.get("submitted_by")})
    return await ashby_user_names(ashby, ids, limit=20)


def click_handler(slack: SlackApi, names: CandidateNames = no_names):
    async def on_click(pool: asyncpg.Pool, d: Delivered) -> None:
        """Show who decided on the proposal; a later click is told it was already decided."""
        p = d.envelope.payload
        async with pool.acquire() as conn:
            first, proposal = await store.decide_proposal(conn, p["proposal_command_id"], p["slack_user_id"],
                                                          p["choice"])
        if proposal is None:
            log.warning("click_on_unknown_proposal", command_id=p["proposal_command_id"])
            return
        if first:
            await _show(slack, proposal, names)
            async with pool.acquire() as conn:  # Ashby may have answered while Slack was being updated
                latest = await store.proposal(conn, p["proposal_command_id"])
            if latest is not None and (latest["outcome"] and not proposal["outcome"]
                                       or latest["window_state"] != proposal["window_state"]):
                await _show(slack, latest, names)
            log.info("proposal_decided", command_id=p["proposal_command_id"], choice=p["choice"])
        else:
            await slack.post_ephemeral(proposal["channel"], p["slack_user_id"],
                                       build_already_decided(proposal["choice"], proposal["decided_by"]))
            log.info("proposal_already_decided", command_id=p["proposal_command_id"])

    return on_click

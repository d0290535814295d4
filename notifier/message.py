"""Slack Block Kit for rejection proposals, decided proposals and admin alerts (pure).

Nothing that reaches Slack may carry an email address or a phone number: every free text passes
through `redact` before it is placed in a block, whatever the caller handed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

ARCHIVE_ACTION = "autoadvance_archive"
KEEP_ACTION = "autoadvance_keep"
ACTIONS_BLOCK_PREFIX = "autoadvance_proposal:"
"""The actions block's id is this prefix + the application id, so a click names its application."""

UNDO_ACTION = "autoadvance_undo_archive"
UNDO_BLOCK_PREFIX = "autoadvance_undo:"
"""The Undo button of a scheduled archive: value = the archive's command id, block id = prefix +
application id (issue 21)."""

ASHBY_APP_URL = "https://app.ashbyhq.com"
REDACTED = "[redacted]"
_MAX_REQUIREMENTS = 40  # Slack allows 50 blocks per message; the rest of the message needs a few
_MAX_TEXT = 2900  # a section's text may hold 3000 characters

_EMAIL = re.compile(r"(?:mailto:)?[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_PHONE_CANDIDATE = re.compile(r"(?<![\w.\-])(?:\+|00)?\(?\d[\d\s().\-]{5,}\d(?![\w.\-])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Block = dict[str, Any]


def redact(text: object) -> str:
    """The text with email addresses and phone-like digit runs replaced."""
    out = _EMAIL.sub(REDACTED, "" if text is None else str(text))
    return _PHONE_CANDIDATE.sub(_phone_or_keep, out)


def _phone_or_keep(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(c.isdigit() for c in run)
    shortest = 10 if run.isdigit() else 7  # a bare number is a phone only at full length
    if not shortest <= digits <= 15 or _ISO_DATE.fullmatch(run.strip()):
        return run
    return REDACTED


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; user text must not form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe(text: object, fallback: str = "unknown") -> str:
    cleaned = _escape(redact(text)).strip()
    return cleaned[:_MAX_TEXT] if cleaned else fallback


def application_url(candidate_id: str | None, application_id: str) -> str:
    if candidate_id:
        return f"{ASHBY_APP_URL}/candidates/{candidate_id}?applicationId={application_id}"
    return f"{ASHBY_APP_URL}/applications/{application_id}"


def _value_text(values: object) -> str:
    if isinstance(values, (list, tuple)):
        return ", ".join(_value_text(v) for v in values) if values else "no value"
    if isinstance(values, Mapping):
        for key in ("value", "score", "label"):
            if key in values:
                return _value_text(values[key])
    return redact("—" if values is None else values)


def _requirement_line(req: Mapping[str, Any]) -> str:
    passed = req.get("passed")
    mark = ":white_check_mark: pass" if passed is True else ":x: fail" if passed is False else ":hourglass: waiting"
    title = _safe(req.get("interview_title") or req.get("interview_id"), "interview")
    field = _safe(req.get("field"), "field")
    values = _escape(_value_text(req.get("values")))
    rule = f"{_escape(redact(req.get('operator', '?')))} {_escape(_value_text(req.get('threshold')))}"
    return f"{mark} · *{title}* · `{field}`: {values} (needs {rule})"


def _when(value: object) -> str:
    """An ISO timestamp as `2026-11-02 10:00 UTC` (what a recruiter reads); other text as it is."""
    text = str(value or "")
    if len(text) >= 16 and text[4] == "-" and text[10] in "T ":
        return f"{text[:10]} {text[11:16]} UTC"
    return text or "an unknown time"


def _submission_lines(req: Mapping[str, Any], names: Mapping[str, str]) -> list[str]:
    """One line per interviewer's submission for this requirement: name, value, when, pass/fail."""
    lines = []
    for check in req.get("checks") or []:
        if not isinstance(check, Mapping):
            continue
        user = check.get("submitted_by")
        who = _safe(names.get(str(user)) if user else None, f"interviewer {user}" if user else "an interviewer")
        passed = check.get("passed")
        mark = ":white_check_mark:" if passed is True else ":x:" if passed is False else "•"
        value = _escape(_value_text(check.get("value")))
        lines.append(f"    {mark} {who}: `{_escape(redact(req.get('field', '?')))}` = {value} "
                     f"· submitted {_escape(_when(check.get('submitted_at')))}")
    return lines


def _requirement_blocks(explanation: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[Block]:
    reqs = [r for r in explanation.get("requirements") or [] if isinstance(r, Mapping)]
    blocks: list[Block] = [_section("\n".join([_requirement_line(r), *_submission_lines(r, names or {})]))
                           for r in reqs[:_MAX_REQUIREMENTS]]
    if len(reqs) > _MAX_REQUIREMENTS:
        blocks.append(_context(f"… and {len(reqs) - _MAX_REQUIREMENTS} more requirements"))
    if not blocks:
        blocks.append(_context("No requirement details were recorded."))
    return blocks


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:_MAX_TEXT]}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:_MAX_TEXT]}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "action_id": action_id, "value": value,
                     "text": {"type": "plain_text", "text": text, "emoji": True}}
    if style:
        button["style"] = style
    return button


def build_proposal(*, command_id: str, application_id: str, candidate_name: str | None,
                   job_title: str | None, stage_title: str | None, explanation: Mapping[str, Any],
                   candidate_id: str | None = None, url: str | None = None,
                   recruiter_user_id: str | None = None, rule_label: str | None = None,
                   interviewer_names: Mapping[str, str] | None = None) -> tuple[str, list[Block]]:
    """(fallback text, blocks) asking a recruiter to archive or keep a candidate.

    Both buttons carry the proposal's command id as their value; the actions block's id carries
    the application id. Under each requirement, each interviewer's submission (name from
    `interviewer_names` by Ashby user id, value, submitted at). Free text is redacted and escaped,
    so no contact detail reaches Slack.
    """
    name, job, stage = _safe(candidate_name, "A candidate"), _safe(job_title, "a job"), _safe(stage_title, "a stage")
    link = url or application_url(candidate_id, application_id)
    mention = f"<@{recruiter_user_id}> " if recruiter_user_id else ""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Rejection proposal", "emoji": True}},
        _section(f"{mention}*{name}* did not meet the feedback thresholds for *{job}* in stage *{stage}*."),
        *_requirement_blocks(explanation, interviewer_names),
        _section(f"<{link}|Open the application in Ashby>"),
    ]
    if rule_label:
        blocks.append(_context(f"Rule: {_safe(rule_label)}"))
    archive = _button("Archive", ARCHIVE_ACTION, command_id, "danger")
    archive["confirm"] = {
        "title": {"type": "plain_text", "text": "Archive this candidate?"},
        "text": {"type": "mrkdwn", "text": f"*{name}* will be archived in Ashby."},
        "confirm": {"type": "plain_text", "text": "Archive"},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": "danger",
    }
    blocks.append({"type": "actions", "block_id": f"{ACTIONS_BLOCK_PREFIX}{application_id}",
                   "elements": [archive, _button("Keep in process", KEEP_ACTION, command_id)]})
    text = f"Rejection proposal: {name} for {job} ({stage})"
    return text, blocks


def _without_buttons(original_blocks: Sequence[Block]) -> list[Block]:
    return [dict(b) for b in original_blocks if b.get("type") != "actions"]


def build_decided(original_blocks: Sequence[Block], decided_by_slack_user_id: str, choice: str,
                  outcome_text: str | None = None) -> tuple[str, list[Block]]:
    """(text, blocks) for `chat.update` at the click: the proposal without its buttons and who chose.

    An archive is only asked for here ("Archiving…"): the message says "Archived" once Ashby
    confirmed it (`build_archive_outcome`), never before."""
    who = f"<@{_escape(decided_by_slack_user_id)}>"
    kept = _without_buttons(original_blocks)
    if choice == "archive":
        kept.append(_section(f":hourglass_flowing_sand: *Archiving…* asked by {who}"))
        kept.append(_context(_safe(outcome_text or "Waiting for Ashby to confirm the archive.")))
        return f"Archiving… asked by {who}", kept
    kept.append(_section(f":arrow_forward: *Kept in process* by {who}"))
    if outcome_text:
        kept.append(_context(_safe(outcome_text)))
    return f"Kept in process by {who}", kept


ARCHIVE_OUTCOMES = ("succeeded", "failed", "skipped")


def build_archive_outcome(original_blocks: Sequence[Block], decided_by_slack_user_id: str | None, outcome: str,
                          reason: str | None) -> tuple[str, list[Block]]:
    """(text, blocks) for `chat.update` once Ashby answered the archive a recruiter asked for:
    archived, failed with the reason, or skipped because the candidate was moved meanwhile."""
    mention = f"<@{_escape(decided_by_slack_user_id)}>" if decided_by_slack_user_id else ""
    who = f" by {mention}" if mention else ""
    asked = f" (asked by {mention})" if mention else ""
    kept = _without_buttons(original_blocks)
    why = _safe(reason, "no reason given")
    if outcome == "succeeded":
        head, note = f":file_cabinet: *Archived*{who}", "Ashby confirmed the archive."
    elif outcome == "skipped":
        head = f":arrow_right: *Not archived*{asked}: skipped"
        note = f"Skipped: {why}" + (" (someone moved the candidate in Ashby meanwhile)" if "left stage" in why else "")
    else:
        head = f":warning: *Archive failed*{asked}"
        note = f"Ashby did not archive the candidate: {why}. The admins were alerted."
    kept.append(_section(head))
    kept.append(_context(note))
    text = {"succeeded": f"Archived{who}", "skipped": f"Not archived (skipped): {why}"}.get(
        outcome, f"Archive failed: {why}")
    return text, kept


def build_alert(kind: str, text: str, application_id: str | None = None) -> tuple[str, list[Block]]:
    """(text, blocks) for the admin channel; the alert text is redacted like everything else."""
    title = _safe(kind, "alert")
    body = _safe(text, "(no details)")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"auto-advance: {redact(kind)}"[:150]}},
        _section(body),
    ]
    if application_id:
        blocks.append(_context(f"application `{_escape(application_id)}` · <{application_url(None, application_id)}|Ashby>"))
    return f"auto-advance alert ({title}): {body}"[:_MAX_TEXT], blocks


def build_already_decided(choice: str | None, decided_by_slack_user_id: str | None) -> str:
    """Ephemeral reply to a click on a proposal that someone already decided."""
    verb = {"archive": "archived", "keep": "kept in process"}.get(choice or "", "decided")
    who = f" by <@{_escape(decided_by_slack_user_id)}>" if decided_by_slack_user_id else ""
    return f"This proposal was already {verb}{who}; your click changed nothing."


# --- the undo window of an archive (issue 21) ------------------------------------------------------


def build_archive_notice(*, application_id: str, candidate_name: str | None, job_title: str | None,
                         stage_title: str | None, explanation: Mapping[str, Any], candidate_id: str | None = None,
                         recruiter_user_id: str | None = None, rule_label: str | None = None,
                         interviewer_names: Mapping[str, str] | None = None) -> tuple[str, list[Block]]:
    """(text, blocks) telling the recruiter that a rule archives a candidate on its own; the window
    part (`build_window`) is added below it."""
    name, job, stage = _safe(candidate_name, "A candidate"), _safe(job_title, "a job"), _safe(stage_title, "a stage")
    mention = f"<@{recruiter_user_id}> " if recruiter_user_id else ""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Automatic archive", "emoji": True}},
        _section(f"{mention}*{name}* did not meet the feedback thresholds for *{job}* in stage *{stage}*; "
                 "the rule archives such candidates automatically."),
        *_requirement_blocks(explanation, interviewer_names),
        _section(f"<{application_url(candidate_id, application_id)}|Open the application in Ashby>"),
    ]
    if rule_label:
        blocks.append(_context(f"Rule: {_safe(rule_label)}"))
    return f"Automatic archive: {name} for {job} ({stage})", blocks


def build_window(original_blocks: Sequence[Block], *, state: str, application_id: str, archive_command_id: str,
                 due_at: str | None, asked_by: str | None, settled_by: str | None = None,
                 reason: str | None = None) -> tuple[str, list[Block]]:
    """(text, blocks) for a message whose archive has an undo window, as the window stands:
    `scheduled` (with the Undo button), `released` (sent to Ashby, its answer not known yet),
    `undone` or `cancelled` (nothing was sent to Ashby). `asked_by` is a Slack user id, or None for
    a rule's own archive."""
    kept = _without_buttons(original_blocks)
    when = _escape(_when(due_at))
    by = f" asked by <@{_escape(asked_by)}>" if asked_by else " by the rule"
    if state == "scheduled":
        kept.append(_section(f":hourglass: *Archive scheduled*{by}: the candidate will be archived in Ashby at "
                             f"*{when}* unless someone presses Undo before then."))
        kept.append(_context("Nothing has been sent to Ashby yet, and no rejection email."))
        kept.append({"type": "actions", "block_id": f"{UNDO_BLOCK_PREFIX}{application_id}",
                     "elements": [_button("Undo", UNDO_ACTION, archive_command_id)]})
        return f"Archive scheduled{by} for {when}", kept
    if state == "undone":
        who = f"<@{_escape(settled_by)}>" if settled_by else "someone"
        kept.append(_section(f":leftwards_arrow_with_hook: *Archive undone* by {who}"))
        kept.append(_context("Nothing was sent to Ashby and no rejection email went out; the candidate stays "
                             "in the process."))
        return f"Archive undone by {who}", kept
    if state == "cancelled":
        why = _safe(reason, "no reason given")
        kept.append(_section(":arrow_right: *Not archived*: the scheduled archive was cancelled"))
        kept.append(_context(f"{why}. Nothing was sent to Ashby."))
        return f"Not archived (cancelled): {why}", kept
    kept.append(_section(f":hourglass_flowing_sand: *Archiving…*{by}: the undo window ended at {when}"))
    kept.append(_context("Sent to Ashby; waiting for Ashby to confirm the archive."))
    return f"Archiving…{by} (undo window ended {when})", kept


def build_undo_refused(reason: str, detail: str, outcome: str | None, outcome_reason: str | None) -> str:
    """Ephemeral answer to an Undo that came too late (or for an archive already settled), saying
    what really happened to the candidate."""
    head = {"too_late": "Too late to undo", "already_undone": "Nothing to undo",
            "cancelled": "Nothing to undo"}.get(reason, "Cannot undo")
    if reason != "too_late":
        return f"{head}: {_safe(detail)}."
    truth = {"succeeded": "Ashby confirmed the archive.",
             "failed": f"Ashby did not archive the candidate: {_safe(outcome_reason, 'no reason given')}.",
             "skipped": f"The archive was skipped: {_safe(outcome_reason, 'no reason given')}."}.get(
        outcome or "", "Ashby has not answered yet; this message will show its answer.")
    return f"{head}: {_safe(detail)}. {truth} Your click changed nothing."

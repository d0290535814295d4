"""Slack Block Kit for feedback nudges and escalations (pure; issue 21, docs/slack.md).

Minimal candidate data: the candidate's name only. Interviewers are named by first and last name,
never by email. Times are Slack date tokens, shown in each reader's own time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from notifier.message import Block, _context, _safe, _section, application_url

NUDGE_HEADER = "Feedback reminder"
ESCALATION_HEADER = "Feedback is late"


def slack_time(iso: str | None) -> str:
    """A Slack date token (rendered in the reader's time zone) with a UTC fallback text."""
    try:
        moment = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return "an unknown time"
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def feedback_url(link: str | None, candidate_id: str | None, application_id: str) -> str:
    """Ashby's feedback form link for the event when it is a plain https link, else the application."""
    if link and link.startswith("https://") and not any(c in link for c in "<>| \n"):
        return link[:500]
    return application_url(candidate_id, application_id)


def build_nudge(*, candidate_name: str | None, interview_title: str | None, due_at: str, link: str,
                interviewer_slack_id: str | None) -> tuple[str, list[Block]]:
    candidate = _safe(candidate_name, "a candidate")
    interview = _safe(interview_title, "your interview")
    text = f"{NUDGE_HEADER}: your feedback for {candidate} ({interview}) is due"
    hello = f"Hi <@{interviewer_slack_id}>, your" if interviewer_slack_id else "Your"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": NUDGE_HEADER}},
        _section(f"{hello} feedback for *{candidate}* ({interview}) was due {slack_time(due_at)}. The decision "
                 f"on this candidate waits for it.\n<{link}|Open the feedback form in Ashby>"),
        _context("Sent once per due time by auto-advance."),
    ]
    return text, blocks


def build_escalation(*, candidate_name: str | None, job_title: str | None, stage_title: str | None,
                     late: Sequence[Mapping[str, Any]], names: Mapping[str, str],
                     interview_titles: Mapping[str, str], url: str) -> tuple[str, list[Block]]:
    """`late`: `LateFeedback` dicts; `names`: interviewer id → name (an unknown one shows as its id)."""
    candidate = _safe(candidate_name, "a candidate")
    where = ", ".join(_safe(x) for x in (job_title, stage_title) if x) or "their current stage"
    lines = []
    for item in late[:30]:
        who = _safe(names.get(str(item.get("interviewer_id"))) or item.get("interviewer_id"))
        interview = _safe(interview_titles.get(str(item.get("interview_id"))) or item.get("interview_id") or
                          "an interview")
        lines.append(f"• *{who}*: {interview}, due {slack_time(item.get('due_at'))}")
    if len(late) > 30:
        lines.append(f"• … and {len(late) - 30} more")
    people = len({str(i.get("interviewer_id")) for i in late})
    text = f"{ESCALATION_HEADER}: {people} interviewer(s) have not submitted feedback for {candidate}"
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": ESCALATION_HEADER}},
        _section(f"The decision on *{candidate}* ({where}) is blocked by missing feedback from:\n" + "\n".join(lines)),
        _context(f"<{url}|Open the application in Ashby>"),
    ]
    return text, blocks

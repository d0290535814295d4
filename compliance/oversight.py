"""Human oversight in numbers: per rule and per recruiter, how many rejection proposals reached a
recruiter in Slack and were confirmed (Archive), kept (Keep: the recruiter overrode the rule) or
left unanswered, and the median time from the proposal's Slack message to the answer; beside
them, the rejections a rule made with no human asked (`on_fail: archive`). Pure.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class Proposal:
    """A rejection proposal posted to Slack, and the first answer to it (if any)."""

    rule_id: str
    command_id: str
    posted_at: datetime
    choice: str | None = None  # archive | keep
    answered_at: datetime | None = None
    recruiter: str | None = None  # the Slack user id who answered


class OversightRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rule_id: str
    recruiter: str | None
    """The Slack user id that answered; null on a rule's total row (and for unanswered proposals)."""
    proposals: int
    confirmed: int
    kept: int
    unanswered: int
    override_rate: float | None
    """kept / answered."""
    median_answer_s: float | None
    automatic_rejections: int | None = None
    """Only on a rule's total row: archives the rule made with no recruiter asked."""


class OversightReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    since: str | None
    until: str | None
    definition: str
    by_rule: list[OversightRow]
    by_rule_and_recruiter: list[OversightRow]


DEFINITION = ("proposals: rejection proposals a rule made in the period that Slack accepted; confirmed: the "
              "first answer was Archive; kept: the first answer was Keep (the rule was overridden); unanswered: "
              "no answer yet. median_answer_s: from the Slack message to the first answer. "
              "automatic_rejections: archives a rule made without asking anyone (on_fail: archive).")


def _row(rule_id: str, recruiter: str | None, items: list[Proposal], automatic: int | None) -> OversightRow:
    confirmed = sum(p.choice == "archive" for p in items)
    kept = sum(p.choice == "keep" for p in items)
    answered = confirmed + kept
    waits = [(p.answered_at - p.posted_at).total_seconds() for p in items
             if p.choice is not None and p.answered_at is not None]
    return OversightRow(rule_id=rule_id, recruiter=recruiter, proposals=len(items), confirmed=confirmed, kept=kept,
                        unanswered=len(items) - answered,
                        override_rate=round(kept / answered, 4) if answered else None,
                        median_answer_s=round(statistics.median(waits), 3) if waits else None,
                        automatic_rejections=automatic)


def oversight(proposals: Iterable[Proposal], automatic: Mapping[str, int], *, since: str | None = None,
              until: str | None = None) -> OversightReport:
    by_rule: dict[str, list[Proposal]] = {}
    by_pair: dict[tuple[str, str | None], list[Proposal]] = {}
    for p in proposals:
        by_rule.setdefault(p.rule_id, []).append(p)
        by_pair.setdefault((p.rule_id, p.recruiter if p.choice else None), []).append(p)
    rules = sorted(set(by_rule) | set(automatic))
    return OversightReport(
        since=since, until=until, definition=DEFINITION,
        by_rule=[_row(r, None, by_rule.get(r, []), automatic.get(r, 0)) for r in rules],
        by_rule_and_recruiter=[_row(r, who, items, None)
                               for (r, who), items in sorted(by_pair.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))])


CSV_COLUMNS = ("rule_id", "recruiter", "proposals", "confirmed", "kept", "unanswered", "override_rate",
               "median_answer_s", "automatic_rejections")


def to_csv(rep: OversightReport) -> str:
    """A rule's total row (recruiter empty) followed by its rows per recruiter who answered."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for total in rep.by_rule:
        rows = [total] + [r for r in rep.by_rule_and_recruiter if r.rule_id == total.rule_id and r.recruiter]
        for r in rows:
            writer.writerow(["" if v is None else v for v in (r.rule_id, r.recruiter, r.proposals, r.confirmed, r.kept,
                                                              r.unanswered, r.override_rate, r.median_answer_s,
                                                              r.automatic_rejections)])
    return out.getvalue()


def to_lines(rep: OversightReport) -> list[str]:
    lines = ["Human oversight: rejection proposals per rule (and per recruiter who answered)"]
    if not rep.by_rule:
        lines.append("  no proposals or automatic rejections in the period")
    for row in rep.by_rule:
        lines.append(f"  {row.rule_id}: {row.proposals} proposed, {row.confirmed} confirmed, {row.kept} kept, "
                     f"{row.unanswered} unanswered, median answer {_duration(row.median_answer_s)}; "
                     f"{row.automatic_rejections} rejected with no human asked")
        for pair in rep.by_rule_and_recruiter:
            if pair.rule_id == row.rule_id and pair.recruiter is not None:
                lines.append(f"    {pair.recruiter}: {pair.confirmed} confirmed, {pair.kept} kept, "
                             f"median answer {_duration(pair.median_answer_s)}")
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

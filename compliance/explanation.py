"""An explanation on request (EU AI Act Art. 86, GDPR Art. 22): every automated decision about an
application, in words a candidate can read — the rule and its version, each requirement's value
against its threshold, whether a person reviewed it, and when. Interviewers are never named
unless the operator allows it (`EXPLANATION_INTERVIEWER_NAMES`); recruiters are "a recruiter".
Pure: the decisions, answers and titles are arguments.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

OPERATORS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than", "==": "equal to",
             "!=": "anything but", "in": "one of"}
AGGREGATES = {"all": "every interviewer's answer", "any": "at least one interviewer's answer",
              "average": "the average of the interviewers' answers"}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RequirementExplained(_Model):
    interview: str
    question: str
    rule: str
    operator: str | None
    threshold: Any
    values: list[Any]
    given_by: list[str] | None
    """Interviewers' names beside `values`: only when the operator allows names; else null."""
    average: float | None
    met: bool | None
    text: str


class HumanReview(_Model):
    asked: bool
    answer: str | None
    """`confirmed` (the rejection), `kept` (the recruiter overrode the rule) or null (no answer yet)."""
    answered_at: str | None
    text: str


class DecisionExplained(_Model):
    decided_at: str
    stage_id: str
    stage: str
    rule_id: str
    rule_set_version: int
    outcome: str
    took_effect: bool
    text: str
    requirements: list[RequirementExplained]
    human_review: HumanReview | None


class Explanation(_Model):
    application_id: str
    candidate_name: str | None
    intro: str
    decisions: list[DecisionExplained]


@dataclass(frozen=True, slots=True)
class Answer:
    choice: str  # archive | keep
    at: datetime


@dataclass(frozen=True, slots=True)
class Titles:
    """What the page shows instead of ids; interviewer names only when allowed (else empty)."""

    stages: Mapping[str, str] = field(default_factory=dict)
    interviews: Mapping[str, str] = field(default_factory=dict)
    questions: Mapping[str, str] = field(default_factory=dict)  # a feedback field's path -> its title
    interviewers: Mapping[str, str] | None = None


INTRO = ("This page lists every decision our automated screening made about this application. Each decision "
         "compares the interview feedback with thresholds the recruiting team set in advance. Demographic "
         "information is never used. You may ask the recruiting team for a person to review any decision.")


def _when(at: datetime | str | None) -> str:
    if at is None:
        return "an unknown time"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.strftime("%d %B %Y at %H:%M UTC")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        for key in ("score", "value", "label"):
            if key in value:
                return value[key]
    return value


def _show(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return f"“{value}”"
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    return orjson.dumps(value).decode() if not isinstance(value, int | float) else f"{value:g}"


def requirement(r: Mapping[str, Any], titles: Titles) -> RequirementExplained:
    interview = titles.interviews.get(str(r.get("interview_id")), "An interview")
    question = titles.questions.get(str(r.get("field")), str(r.get("field") or "a question"))
    op = str(r.get("operator") or "")
    rule = f"{AGGREGATES.get(str(r.get('aggregate') or 'all'), 'the answers')} must be {OPERATORS.get(op, op)} " \
           f"{_show(r.get('threshold'))}"
    values = [_plain(v) for v in r.get("values") or []]
    names = None
    if titles.interviewers is not None:
        names = [titles.interviewers.get(str(c.get("submitted_by")), "an interviewer") for c in r.get("checks") or []]
    met = r.get("passed")
    if r.get("status") == "skipped" or met is None:
        verdict = "no feedback had this question, so it was not counted"
    else:
        given = ", ".join(f"{_show(v)} ({n})" for v, n in zip(values, names, strict=False)) if names else \
            ", ".join(_show(v) for v in values)
        avg = f" (average {r['average']:g})" if r.get("average") is not None else ""
        verdict = f"answers given: {given or 'none'}{avg} — {'met' if met else 'not met'}"
    return RequirementExplained(interview=interview, question=question, rule=rule, operator=op or None,
                                threshold=r.get("threshold"), values=values, given_by=names,
                                average=r.get("average"), met=met,
                                text=f"{interview}, question “{question}”: {rule}; {verdict}.")


def _effect(d: Mapping[str, Any], titles: Titles) -> tuple[str, bool]:
    """What happened, in words, and whether it changed anything (test runs and failures do not)."""
    status = str(d.get("status") or "")
    if d.get("mode") == "shadow" or d.get("dry_run"):
        return "This was a test run: it was recorded only and changed nothing about your application.", False
    if status == "failed":
        return "It could not be carried out; the recruiting team was alerted and nothing changed.", False
    if status == "skipped":
        return "It was not carried out: someone on the recruiting team had already moved your application.", False
    if d["outcome"] == "advance":
        target = titles.stages.get(str(d.get("target_stage_id")), "the next stage")
        pending = " (this is being carried out)" if status == "pending" else ""
        return f"Every requirement was met, so your application moved on to {target}{pending}.", True
    if d["outcome"] == "propose_rejection":
        return ("Not every requirement was met. The rule did not reject you on its own: it asked a recruiter "
                "to review your application."), True
    if d["outcome"] == "archive":
        return ("Not every requirement was met, and under this rule your application was closed automatically, "
                "without a person reviewing it first."), True
    return ("Not all feedback arrived before the deadline. No decision was made; the recruiting team was "
            "alerted to look at your application."), True


def _review(d: Mapping[str, Any], answer: Answer | None) -> HumanReview | None:
    if d["outcome"] != "propose_rejection":
        return None
    if d.get("mode") == "shadow" or d.get("dry_run"):
        return HumanReview(asked=False, answer=None, answered_at=None, text="No one was asked: it was a test run.")
    if answer is None:
        asked = d.get("status") not in ("pending", "failed")
        return HumanReview(asked=asked, answer=None, answered_at=None,
                           text="A recruiter was asked and has not answered yet." if asked
                           else "The request to a recruiter has not been delivered yet.")
    confirmed = answer.choice == "archive"
    return HumanReview(asked=True, answer="confirmed" if confirmed else "kept", answered_at=answer.at.isoformat(),
                       text=f"On {_when(answer.at)} a recruiter reviewed it and "
                            + ("confirmed it: your application was closed." if confirmed
                               else "decided to keep your application in the process."))


def explain(application_id: str, candidate_name: str | None, decisions: Sequence[Mapping[str, Any]],
            answers: Mapping[str, Answer], titles: Titles) -> Explanation:
    """`decisions`: the application's rows in `evaluator_decisions`, oldest first. The archive a
    recruiter confirmed is told as the review of its proposal, not as a decision of its own."""
    out = []
    for d in decisions:
        why = d.get("explanation") or {}
        if why.get("decided_by") == "recruiter":
            continue
        stage = titles.stages.get(str(d["stage_id"]), "interview")
        text, effect = _effect(d, titles)
        reqs = [requirement(r, titles) for r in why.get("requirements") or []] if d["outcome"] != "timeout" else []
        head = (f"On {_when(d['decided_at'])}, the rule “{d['rule_id']}” (rule set version {d['rule_set_version']}) "
                f"looked at the interview feedback on your application in the {stage} stage.")
        out.append(DecisionExplained(
            decided_at=d["decided_at"].isoformat() if isinstance(d["decided_at"], datetime) else str(d["decided_at"]),
            stage_id=str(d["stage_id"]), stage=stage, rule_id=str(d["rule_id"]),
            rule_set_version=int(d["rule_set_version"]), outcome=str(d["outcome"]), took_effect=effect,
            text=f"{head} {text}", requirements=reqs, human_review=_review(d, answers.get(str(d.get("command_id"))))))
    intro = INTRO if out else "No automated decision has been made about this application."
    return Explanation(application_id=application_id, candidate_name=candidate_name, intro=intro, decisions=out)


def to_text(e: Explanation) -> str:
    lines = [f"Automated decisions about application {e.application_id}"
             + (f" ({e.candidate_name})" if e.candidate_name else ""), "", e.intro]
    for d in e.decisions:
        lines += ["", d.text]
        lines += [f"  - {r.text}" for r in d.requirements]
        if d.human_review is not None:
            lines.append(f"  Review: {d.human_review.text}")
    return "\n".join(lines) + "\n"


def to_html(e: Explanation) -> str:
    x = html.escape
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>About your application</title>"
             "<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;line-height:1.5}"
             "li{margin:.3em 0}.met{color:#176117}.unmet{color:#8a1c1c}</style></head><body>",
             f"<h1>About your application{(' — ' + x(e.candidate_name)) if e.candidate_name else ''}</h1>",
             f"<p>{x(e.intro)}</p>"]
    for d in e.decisions:
        parts.append(f"<section><h2>{x(d.stage)}</h2><p>{x(d.text)}</p>")
        if d.requirements:
            parts.append("<ul>")
            for r in d.requirements:
                css = "met" if r.met else "unmet" if r.met is False else ""
                parts.append(f"<li class='{css}'>{x(r.text)}</li>")
            parts.append("</ul>")
        if d.human_review is not None:
            parts.append(f"<p><b>Human review:</b> {x(d.human_review.text)}</p>")
        parts.append("</section>")
    parts.append(f"<p><small>Application {x(e.application_id)}</small></p></body></html>")
    return "".join(parts)

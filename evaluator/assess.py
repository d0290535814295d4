"""The facts of one stage and what a rule makes of them: whose feedback is still due, what is
missing, and how each requirement fares against the feedback that is in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from evaluator.frozen import quick_init
from evaluator.rules import Requirement, Rule
from evaluator.state import AppState, FeedbackFact, InterviewSlot, ScheduleFact
from evaluator.values import aggregate


@quick_init
@dataclass(frozen=True, slots=True)
class WaitReason:
    """One thing an evaluation waits for; `kind` is feedback, interview_not_scheduled, missing_field,
    no_feedback, quiet_period, application_snapshot or interview_plan."""

    kind: str
    detail: str
    interview_id: str | None = None
    interview_event_id: str | None = None
    interviewer_id: str | None = None
    schedule_id: str | None = None
    feedback_id: str | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name in _REASON_FIELDS if (value := getattr(self, name)) is not None}


_REASON_FIELDS = tuple(f.name for f in fields(WaitReason))


@quick_init
@dataclass(frozen=True, slots=True)
class StageFacts:
    schedules: tuple[ScheduleFact, ...]
    feedback: tuple[FeedbackFact, ...]
    interview_of: Mapping[str, str | None]

    def live_events(self) -> list[tuple[ScheduleFact, InterviewSlot, tuple[str, ...]]]:
        """Interview events of the stage's schedules that still expect feedback (not Cancelled),
        each with its schedule and its required interviewers."""
        return [(s, e, required) for s in self.schedules if not s.cancelled for e, required in s.events]

    def started_at(self) -> datetime | None:
        times = [s.created_at or s.stamp[0] for s in self.schedules]
        return min(times, default=None)

    def last_feedback_at(self) -> datetime | None:
        return max((f.submitted_at for f in self.feedback), default=None)


def stage_facts(state: AppState, stage_id: str, rule: Rule) -> StageFacts:
    """The stage's schedules and the feedback that belongs to it: for one of its interview events,
    or for one of its (or the rule's) interviews when the event is not known to be another stage's."""
    found = [s for s in state.schedules.values() if s.stage_id == stage_id]
    if len(found) > 1:
        found.sort(key=_schedule_id)
    schedules = tuple(found)
    if not state.feedback:
        return StageFacts(schedules, (), {})
    # every known event's interview (later schedules win, as one dict built over them all would)
    events: dict[str, str | None] = {}
    for s in state.schedules.values():
        events.update(s.interview_of_event)
    here = set()
    interviews: set[str | None] = {r.interview_id for r in rule.requirements}
    for s in schedules:
        for e, _ in s.events:
            here.add(e.id)
            interviews.add(e.interview_id)
    interview_of: dict[str, str | None] = {}
    relevant = []
    for fb in state.feedback.values():
        event_id = fb.interview_event_id
        known = events.get(event_id or "", _UNKNOWN)
        interview = fb.interview_id or (None if known is _UNKNOWN else known)
        interview_of[fb.feedback_id] = interview
        if event_id in here or (known is _UNKNOWN and interview in interviews):
            relevant.append(fb)
    relevant.sort(key=_feedback_order)
    return StageFacts(schedules, tuple(relevant), interview_of)


_UNKNOWN: Any = object()


def _schedule_id(fact: ScheduleFact) -> str:
    return fact.id


def _feedback_order(fact: FeedbackFact) -> tuple[datetime, str]:
    return fact.stamp[0], fact.feedback_id


def pending(facts: StageFacts, rule: Rule, values: Sequence[Values] | None = None) -> list[WaitReason]:
    """Everything still missing before the rule can judge. Missing feedback is never a failure.
    `values`: `requirement_values(facts, rule)`, when the caller has it already."""
    reasons: list[WaitReason] = []
    live = facts.live_events()
    scheduled = {e.interview_id for _, e, _ in live}
    if live:
        # who submitted for what: by interview event, or (no event named) by the feedback's interview
        by_event = set()
        by_interview = set()
        for f in facts.feedback:
            if f.interview_event_id:
                by_event.add((f.submitted_by, f.interview_event_id))
            else:
                by_interview.add((f.submitted_by, facts.interview_of.get(f.feedback_id)))
        for sched, event, required in live:
            for user in required:
                if (user, event.id) not in by_event and (user, event.interview_id) not in by_interview:
                    reasons.append(WaitReason("feedback", f"feedback from {user} for interview "
                                              f"{event.interview_id}", event.interview_id, event.id, user,
                                              sched.id))
    waited = {r.interview_id for r in reasons}
    judged = 0
    for req, (given, lacking) in zip(rule.requirements, values or requirement_values(facts, rule), strict=True):
        judged += bool(given)
        if not req.required:
            continue
        if req.interview_id not in scheduled:
            reasons.append(WaitReason("interview_not_scheduled", f"required interview {req.interview_id} "
                                      "has no schedule in this stage", req.interview_id))
            continue
        for fb in lacking:
            reasons.append(WaitReason("missing_field", f"feedback {fb.feedback_id} has no value for "
                                      f"{req.field!r}", req.interview_id, fb.interview_event_id,
                                      fb.submitted_by, feedback_id=fb.feedback_id, field=req.field))
        if not given and not lacking and req.interview_id not in waited:
            reasons.append(WaitReason("no_feedback", f"no feedback yet for required interview {req.interview_id}",
                                      req.interview_id, field=req.field))
    if not reasons and not judged:
        reasons.append(WaitReason("no_feedback", "no feedback for any of the rule's interviews yet"))
    return reasons


Values = tuple[list[FeedbackFact], list[FeedbackFact]]


def requirement_values(facts: StageFacts, rule: Rule) -> list[Values]:
    """`_values` of each of the rule's requirements, in order (what `pending` and `assess` read)."""
    return [_values(facts, req) for req in rule.requirements]


def _values(facts: StageFacts, req: Requirement) -> Values:
    """(feedback with a value for the requirement's field, feedback for its interview without one)."""
    given: list[FeedbackFact] = []
    lacking: list[FeedbackFact] = []
    interview_of, interview, name = facts.interview_of, req.interview_id, req.field
    for f in facts.feedback:
        if interview_of.get(f.feedback_id) == interview:
            (given if name in f.answered else lacking).append(f)
    return given, lacking


def assess(facts: StageFacts, rule: Rule, values: Sequence[Values] | None = None) -> list[dict[str, Any]]:
    """Each requirement with the values seen, the feedback used and pass/fail (or skipped: an
    optional interview without feedback). JSON-able: it goes into the decision's explanation."""
    out = []
    for req, (given, lacking) in zip(rule.requirements, values or requirement_values(facts, rule), strict=True):
        raws = [f.values[req.field] for f in given]
        entry: dict[str, Any] = {
            "interview_id": req.interview_id, "field": req.field, "operator": req.operator,
            "threshold": req.threshold, "aggregate": req.aggregate, "required": req.required,
            "values": raws, "feedback_ids": [f.feedback_id for f in given],
        }
        if lacking:
            entry["feedback_without_value"] = [f.feedback_id for f in lacking]
        if not given:
            out.append({**entry, "status": "skipped", "passed": None, "reasons": ["no feedback with this field"]})
            continue
        result = aggregate(raws, req.operator, req.threshold, req.aggregate)
        entry["checks"] = [{"feedback_id": f.feedback_id, "submitted_by": f.submitted_by, "value": raw,
                            "passed": c.passed, **({"reason": c.reason} if c.reason else {})}
                           for f, raw, c in zip(given, raws, result.checks, strict=True)]
        if result.average is not None:
            entry["average"] = result.average
        out.append({**entry, "status": "passed" if result.passed else "failed", "passed": result.passed,
                    "reasons": list(result.reasons)})
    return out

"""The facts of one stage and what a rule makes of them: whose feedback is still due, what is
missing, and how each requirement fares against the feedback that is in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from evaluator.application_state import AppState, FeedbackFact, InterviewSlot, ScheduleFact
from evaluator.fast_init import quick_init
from evaluator.rules import Requirement, Rule
from evaluator.value_comparison import aggregate


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
class IgnoredFeedback:
    """Feedback that looks like this stage's but is not relevant (docs/rules.md), and why."""

    feedback_id: str
    submitted_by: str | None
    interview_event_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"feedback_id": self.feedback_id, "submitted_by": self.submitted_by,
                "interview_event_id": self.interview_event_id, "reason": self.reason}


@quick_init
@dataclass(frozen=True, slots=True)
class StageFacts:
    schedules: tuple[ScheduleFact, ...]
    feedback: tuple[FeedbackFact, ...]
    interview_of: Mapping[str, str | None]
    ignored: tuple[IgnoredFeedback, ...] = ()

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
    """The stage's schedules and its relevant feedback (docs/rules.md, "Relevant feedback"): for a
    known interview event of a non-cancelled schedule of this stage, submitted by an interviewer of
    that event, the latest submission of each interviewer for each event. Feedback that could be
    this stage's but is not relevant is kept in `ignored`, with the reason."""
    found = [s for s in state.schedules.values() if s.stage_id == stage_id]
    if len(found) > 1:
        found.sort(key=_schedule_id)
    schedules = tuple(found)
    if not state.feedback:
        return StageFacts(schedules, (), {})
    elsewhere: set[str] = set()  # events of other stages' schedules: their feedback is not ours to judge
    for s in state.schedules.values():
        if s.stage_id != stage_id:
            elsewhere.update(s.interview_of_event)
    here: dict[str, tuple[ScheduleFact, InterviewSlot, tuple[str, ...]]] = {}
    interviews: set[str | None] = {r.interview_id for r in rule.requirements}
    for s in schedules:
        for e, required in s.events:
            here[e.id] = (s, e, required)
            interviews.add(e.interview_id)
    ignored: list[IgnoredFeedback] = []
    latest: dict[tuple[str, str], FeedbackFact] = {}
    for fb in sorted(state.feedback.values(), key=_feedback_order):
        event_id = fb.interview_event_id
        where = here.get(event_id) if event_id else None
        if where is None:
            if event_id in elsewhere or (fb.interview_id is not None and fb.interview_id not in interviews):
                continue  # another stage's feedback
            why = ("names no interview event" if not event_id else
                   f"is for interview event {event_id}, which no schedule of this stage has")
            ignored.append(_ignored(fb, why))
            continue
        schedule, slot, required = where
        people = slot.interviewers if slot.interviewers is not None else required
        if schedule.cancelled:
            ignored.append(_ignored(fb, f"its schedule {schedule.id} was cancelled"))
        elif not fb.submitted_by:
            ignored.append(_ignored(fb, "has no submitter"))
        elif fb.submitted_by not in people:
            ignored.append(_ignored(fb, f"was submitted by {fb.submitted_by}, not an interviewer of "
                                        f"interview event {slot.id}"))
        else:
            key = (fb.submitted_by, slot.id)
            earlier = latest.get(key)
            if earlier is not None:  # sorted oldest first: this one is the later submission
                ignored.append(_ignored(earlier, f"was replaced by the later submission {fb.feedback_id} "
                                                 f"of {fb.submitted_by} for the same interview event"))
            latest[key] = fb
    relevant = sorted(latest.values(), key=_feedback_order)
    interview_of = {fb.feedback_id: here[fb.interview_event_id or ""][1].interview_id for fb in relevant}
    ignored.sort(key=_ignored_order)
    return StageFacts(schedules, tuple(relevant), interview_of, tuple(ignored))


def _ignored(fb: FeedbackFact, why: str) -> IgnoredFeedback:
    return IgnoredFeedback(fb.feedback_id, fb.submitted_by, fb.interview_event_id, f"feedback {fb.feedback_id} {why}")


def _ignored_order(item: IgnoredFeedback) -> str:
    return item.feedback_id


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
        entry["checks"] = [{"feedback_id": f.feedback_id, "submitted_by": f.submitted_by,
                            "submitted_at": f.submitted_at.isoformat(), "value": raw,
                            "passed": c.passed, **({"reason": c.reason} if c.reason else {})}
                           for f, raw, c in zip(given, raws, result.checks, strict=True)]
        if result.average is not None:
            entry["average"] = result.average
        out.append({**entry, "status": "passed" if result.passed else "failed", "passed": result.passed,
                    "reasons": list(result.reasons)})
    return out

"""Proofs, by construction, that an event cannot change what `decide` says for one lane of one
application, used by `evaluator.replay.Replayer` to skip evaluations. Pure functions of the facts
before and after the event and the lane's last evaluation; the live evaluator does not use them.

A skipped evaluation whose result would still be a `Wait` with the same timer leaves the lane's
last evaluation *stale*: its outcome, stage, rule and `until` are right, only its reasons may
differ. The replayer then re-runs `decide` when a final explanation is needed (`_settle`), on the
facts it holds then, exactly as it does for the feedback shortcut.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from evaluator.pure_core import (
    AppState,
    Position,
    Wait,
)

PENDING_KINDS = frozenset({"feedback", "interview_not_scheduled", "missing_field", "no_feedback"})
"""The reasons `assess.pending` gives: a `Wait` made only of these came from `_wait_or_time_out`."""


def _stage_start(state: AppState, stage_id: str) -> datetime | None:
    """`StageFacts.started_at()` of the stage: its earliest schedule's start."""
    return min((s.created_at or s.stamp[0] for s in state.schedules.values()
                if s.stage_id == stage_id), default=None)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None or a <= b else b


def schedule_keeps_wait(before: AppState, after: AppState, schedule_id: str | None, last: Wait,
                        position: Callable[[], Position | None], now: datetime) -> frozenset[str] | None:
    """The interviewers (all still due) that prove an `InterviewScheduleUpdated` leaves the lane's
    result a `Wait` with the same stage, rule and timer, or None when that is not proven.

    Proof. `last` is a Wait from `_wait_or_time_out` (only pending reasons) in stage S with rule R.
    A schedule event changes only `schedules`: not the snapshot, decisions, commands or choices, so
    the position (stage S, entered-at), the recruiter follow-up, the rule R and `decided` are as
    they were, and `decide` again reaches `_evaluate` for S with R. The updated schedule is in S,
    not cancelled, and has an interview event e with a required interviewer u from whom no
    feedback at all is known: `pending` lists "feedback from u for e" (neither (u, e.id) nor
    (u, e.interview_id) can be among the submissions), so `pending` is non-empty and the result
    comes from `_wait_or_time_out`. Its deadline is min(entered-at, stage start) + the rule's
    timeout, and `armed` reads only the rule and decisions: when min(entered-at, stage start) is
    as before, the deadline is `last.until`'s (or both are None), which is still in the future
    (a due timer fires before any later event), so the result is `Wait(..., last.until, S, R)`.
    The returned set holds only interviewers that are due now (what `_LaneApp.waiting_on` needs:
    each member is still due until feedback from it or another schedule change arrives).
    """
    stage = last.stage_id
    if stage is None or last.rule_id is None or (last.until is not None and last.until <= now):
        return None
    for r in last.reasons:
        if r.kind not in PENDING_KINDS:
            return None
    fact = after.schedules.get(schedule_id)  # type: ignore[arg-type]
    if fact is None or fact.cancelled or fact.stage_id != stage:
        return None
    submitted = {f.submitted_by for f in after.feedback.values()}
    due = frozenset(u for _, required in fact.events for u in required if u not in submitted)
    if not due:
        return None
    old, new = _stage_start(before, stage), _stage_start(after, stage)
    if old != new:
        pos = position()
        if pos is None or pos.stage_id != stage:
            return None
        if _earliest(pos.entered_at, old) != _earliest(pos.entered_at, new):
            return None
    return due

"""`decide`: what the rules say about one application now. A decision, a wait (with what for and
until when to look again), or nothing to do. Pure: `now` is an argument, so replay with a virtual
clock fires the same quiet-period and timeout timers the live system would."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from contracts.envelope import as_utc
from evaluator.application_state import AppState, DecisionRecord, Position
from evaluator.fast_init import quick_init
from evaluator.plan_catalog import Catalog
from evaluator.rules import Rule, RuleSet, format_duration, match_rule
from evaluator.stage_assessment import (
    StageFacts,
    WaitReason,
    assess,
    pending,
    requirement_values,
    stage_facts,
)

DRAFT_VERSION = 0
"""The version a rule set that was never activated (a what-if draft) decides under."""

_format_duration = lru_cache(maxsize=256)(format_duration)
"""`format_duration` of the few quiet periods and timeouts rule sets hold, once each."""


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str  # advance | propose_rejection | archive | timeout
    rule_id: str
    rule_set_version: int
    stage_id: str
    target_stage_id: str | None
    archive_reason_id: str | None
    mode: str  # live | shadow
    dry_run: bool
    explanation: Mapping[str, Any]
    archive_email_template_id: str | None = None

    @property
    def takes_effect(self) -> bool:
        """Shadow mode and dry-run record the decision and do nothing else."""
        return self.mode == "live" and not self.dry_run


@quick_init
@dataclass(frozen=True, slots=True)
class Wait:
    reasons: tuple[WaitReason, ...]
    until: datetime | None  # when to evaluate again: the quiet period's end or the timeout; None: on new facts
    stage_id: str | None = None
    rule_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class NoRule:
    reason: str
    stage_id: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class NotApplicable:
    reason: str
    stage_id: str | None = None
    explanation: Mapping[str, Any] | None = None
    rule_id: str | None = None
    """Set when a rule matched but can never act here (the last stage without a target)."""


Evaluation = Decision | Wait | NoRule | NotApplicable


def decide(state: AppState, catalog: Catalog, rules: RuleSet | None, now: datetime) -> Evaluation:
    """Decide for the application's current stage only; a stage is decided once per rule-set version."""
    now = as_utc(now)
    if state.merged is not None:
        survivor = state.merged.surviving_application_id
        return NotApplicable(f"application {state.application_id} no longer exists in Ashby: {state.merged.reason}"
                             + (f"; application {survivor} continues it" if survivor else ""))
    pos = state.position()
    if pos is None:
        return Wait((WaitReason("application_snapshot", "the application's job, plan and stage are not known yet"),),
                    None)
    if pos.status not in (None, "Active"):
        return NotApplicable(f"application is {pos.status}", pos.stage_id)
    follow_up = _recruiter_follow_up(state, pos.stage_id)
    if follow_up is not None:
        return follow_up
    if rules is None:
        return NoRule("no rule set is active", pos.stage_id)
    rule = match_rule(rules, pos.plan_id, pos.stage_id, pos.job_id)
    if rule is None:
        return NoRule(f"no rule for plan {pos.plan_id}, stage {pos.stage_id}, job {pos.job_id}", pos.stage_id)
    version = rules.version if rules.version is not None else DRAFT_VERSION
    if state.decided(version, pos.stage_id):
        return NotApplicable(f"stage {pos.stage_id} was already decided under rule set v{version}"
                             + _window_note(state, pos.stage_id), pos.stage_id)
    return _evaluate(state, catalog, rules, rule, version, pos, now)


def _evaluate(state: AppState, catalog: Catalog, rules: RuleSet, rule: Rule, version: int, pos: Position,
              now: datetime) -> Evaluation:
    facts = stage_facts(state, pos.stage_id, rule)
    base = {"rule_set_version": version, "rule_id": rule.id, "stage_id": pos.stage_id}
    values = requirement_values(facts, rule)
    waits = pending(facts, rule, values)
    if waits:
        return _wait_or_time_out(state, rules, rule, version, pos, facts, waits, now)
    last = facts.last_feedback_at()
    quiet = rules.quiet_period_for(rule)
    if last is not None and last + quiet > now:
        return Wait((WaitReason("quiet_period", f"quiet period of {_format_duration(quiet)} after the last "
                                f"feedback ({last.isoformat()})"),), last + quiet, pos.stage_id, rule.id)
    requirements = assess(facts, rule, values)
    passed = all(r["passed"] is not False for r in requirements)
    explanation = {**base, "passed": passed, "requirements": requirements,
                   "feedback_ids": sorted({f for r in requirements for f in r["feedback_ids"]}),
                   "last_feedback_at": last.isoformat() if last else None}
    if facts.ignored:
        explanation["ignored_feedback"] = [i.as_dict() for i in facts.ignored]
    if passed:
        return _advance(catalog, rules, rule, version, pos, explanation)
    return _reject(state, rules, rule, version, pos, explanation)


def _advance(catalog: Catalog, rules: RuleSet, rule: Rule, version: int, pos: Position,
             explanation: dict[str, Any]) -> Evaluation:
    target = rule.on_pass.target_stage_id
    if target is None:
        plan = catalog.plan(pos.plan_id)
        if plan is None or plan.stage(pos.stage_id) is None:
            return Wait((WaitReason("interview_plan", f"interview plan {pos.plan_id} with stage {pos.stage_id} "
                                    "is not synced yet; the next stage is unknown"),), None, pos.stage_id, rule.id)
        following = plan.next_stage(pos.stage_id)
        if following is None:
            return NotApplicable(f"stage {pos.stage_id} is the last stage of plan {pos.plan_id}; nowhere to advance",
                                 pos.stage_id, {**explanation, "outcome": None}, rule.id)
        target = following.id
    return Decision("advance", rule.id, version, pos.stage_id, target, None, rule.mode, rules.dry_run,
                    {**explanation, "outcome": "advance", "target_stage_id": target,
                     "target": "explicit" if rule.on_pass.target_stage_id else "next stage"})


def _reject(state: AppState, rules: RuleSet, rule: Rule, version: int, pos: Position,
            explanation: dict[str, Any]) -> Evaluation:
    on_fail = rule.on_fail
    if on_fail.action == "nothing":
        return NotApplicable("requirements not met; the rule's on_fail is 'nothing'", pos.stage_id,
                             {**explanation, "outcome": None})
    undone = state.window_in(pos.stage_id, "undone")
    if undone is not None:
        return NotApplicable(f"an archive in stage {pos.stage_id} was undone (by {undone.by}); nothing more is "
                             "proposed or archived in this stage", pos.stage_id, {**explanation, "outcome": None})
    earlier = _live_proposals(state, pos.stage_id)
    if earlier:
        latest = earlier[-1]
        answer = state.choices.get(latest.command_id or "")
        said = f"the recruiter chose {answer.choice!r}" if answer else "the recruiter has not answered"
        return NotApplicable(f"a rejection was already proposed in stage {pos.stage_id} (rule set "
                             f"v{latest.rule_set_version}) and {said}", pos.stage_id, {**explanation, "outcome": None})
    outcome = "archive" if on_fail.action == "archive" else "propose_rejection"
    return Decision(outcome, rule.id, version, pos.stage_id, None, on_fail.archive_reason_id, rule.mode,
                    rules.dry_run, {**explanation, "outcome": outcome, "archive_reason_id": on_fail.archive_reason_id,
                                    "archive_email_template_id": on_fail.archive_email_template_id},
                    on_fail.archive_email_template_id)


def _wait_or_time_out(state: AppState, rules: RuleSet, rule: Rule, version: int, pos: Position,
                      facts: StageFacts, waits: list[WaitReason], now: datetime) -> Evaluation:
    """Still waiting: at the timeout (from when the application entered the stage or its first
    schedule, whichever is earlier) this becomes a `timeout` decision, once, if the rule alerts."""
    starts = [t for t in (pos.entered_at, facts.started_at()) if t is not None]
    timeout = rules.timeout_for(rule)
    deadline = min(starts) + timeout if starts else None
    armed = rule.on_timeout == "alert" and not state.decided(version, pos.stage_id, frozenset({"timeout"}))
    if armed and deadline is not None and now >= deadline:
        return Decision("timeout", rule.id, version, pos.stage_id, None, None, rule.mode, rules.dry_run, {
            "rule_set_version": version, "rule_id": rule.id, "stage_id": pos.stage_id, "outcome": "timeout",
            "timeout": _format_duration(timeout), "started_at": min(starts).isoformat(),
            "deadline": deadline.isoformat(), "waiting_for": [w.as_dict() for w in waits]})
    return Wait(tuple(waits), deadline if armed else None, pos.stage_id, rule.id)


def _window_note(state: AppState, stage_id: str) -> str:
    """What became of the stage's archive, if it had an undo window (empty when it had none)."""
    window = state.window_in(stage_id)
    if window is None:
        return ""
    due = window.due_at.isoformat() if window.due_at else "its time"
    return {"scheduled": f"; the archive waits for its undo window until {due}",
            "released": f"; the archive was sent to the executor when its undo window ended ({due})",
            "undone": f"; the archive was undone by {window.by} before {due}",
            "cancelled": f"; the scheduled archive was cancelled ({window.by})"}.get(window.status, "")


def _live_proposals(state: AppState, stage_id: str) -> list[DecisionRecord]:
    """Rejection proposals that reached a recruiter for this stage, oldest first."""
    found = [d for d in state.decisions.values()
             if d.outcome == "propose_rejection" and d.stage_id == stage_id and d.command_id]
    return sorted(found, key=lambda d: (d.stamp, d.rule_set_version))


def _recruiter_follow_up(state: AppState, stage_id: str) -> Evaluation | None:
    """A recruiter's Archive on the stage's latest proposal becomes an `archive` decision (once).
    Clicks on a superseded proposal (an older one, or one a later advance overtook) or on another
    stage's proposal change nothing."""
    if not state.choices:
        return None  # nobody answered a proposal
    proposals = _live_proposals(state, stage_id)
    if not proposals:
        return None
    latest = proposals[-1]
    answer = state.choices.get(latest.command_id or "")
    if answer is None or answer.choice != "archive":
        return None
    if state.decided(latest.rule_set_version, stage_id, frozenset({"archive"})):
        window = state.window_in(stage_id)
        if window is None or window.status in ("released", "cancelled"):
            return NotApplicable(f"the recruiter's archive for stage {stage_id} was sent to the executor"
                                 + _window_note(state, stage_id), stage_id)
        return NotApplicable(f"the recruiter asked to archive in stage {stage_id}" + _window_note(state, stage_id),
                             stage_id)
    if any(d.outcome == "advance" and d.stage_id == stage_id and d.stamp > latest.stamp
           for d in state.decisions.values()):
        return None  # a later rule set advanced the candidate: the proposal is superseded
    return Decision("archive", latest.rule_id, latest.rule_set_version, stage_id, None, latest.archive_reason_id,
                    "live", False, {
                        "rule_set_version": latest.rule_set_version, "rule_id": latest.rule_id, "stage_id": stage_id,
                        "outcome": "archive", "decided_by": "recruiter", "slack_user_id": answer.slack_user_id,
                        "proposal_command_id": latest.command_id, "proposal_decision_id": latest.decision_id,
                        "archive_reason_id": latest.archive_reason_id,
                        "archive_email_template_id": latest.archive_email_template_id},
                    latest.archive_email_template_id)

"""The evaluator's pure core in one place: fold facts (`evolve`, `evolve_catalog`, `fold`), judge
them (`decide`), and turn a decision into its `DecisionMade` payload and its command. Ids are
derived from (rule-set version, application, stage, outcome), so re-evaluation repeats them.
This is the evaluator's public entry point: `replay/` imports the evaluator only from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from contracts.commands import AdvanceApplication, ArchiveApplication, ProposeRejection, SendAlert
from contracts.events import DecisionMade, Payload
from contracts.ids import command_id, derive_id
from evaluator.all_facts import World, application_of, fold
from evaluator.application_state import (
    APPLICATION_EVENT_TYPES,
    FINAL_OUTCOMES,
    AppState,
    DecisionRecord,
    Position,
    ScheduleFact,
    evolve,
)
from evaluator.decision_and_timers import (
    DRAFT_VERSION,
    Decision,
    Evaluation,
    NoRule,
    NotApplicable,
    Wait,
    decide,
)
from evaluator.fast_init import quick_init
from evaluator.plan_catalog import (
    CATALOG_EVENT_TYPES,
    ArchiveReason,
    Catalog,
    Plan,
    Stage,
    Stamp,
    evolve_catalog,
)
from evaluator.rules import (
    Problem,
    RuleSet,
    RuleSetInvalid,
    load_rule_set,
    match_rule,
    parse_document,
    validate_document,
    versioned,
)
from evaluator.stage_assessment import WaitReason

__all__ = [
    "APPLICATION_EVENT_TYPES", "CATALOG_EVENT_TYPES", "DRAFT_VERSION", "FINAL_OUTCOMES", "AppState",
    "ArchiveReason", "Catalog", "Command", "Decision", "DecisionRecord", "Evaluation", "NoRule",
    "NotApplicable", "Plan", "Position", "Problem", "RuleSet", "RuleSetInvalid", "ScheduleFact", "Stage",
    "Stamp", "Wait", "WaitReason", "World", "application_of", "command_for", "decide",
    "decision_command_id", "decision_id", "decision_made", "evaluation_summary", "evolve", "evolve_catalog",
    "fold", "load_rule_set", "match_rule", "parse_document", "quick_init", "validate_document", "versioned",
]


@dataclass(frozen=True, slots=True)
class Command:
    command_type: str
    command_id: str
    payload: dict[str, Any]


def decision_id(decision: Decision, application_id: str) -> str:
    return derive_id("decision", decision.rule_set_version, application_id, decision.stage_id, decision.outcome)


def decision_command_id(decision: Decision, application_id: str) -> str | None:
    """The command's id, or None when the decision takes no effect (shadow mode, dry-run)."""
    if not decision.takes_effect:
        return None
    return command_id(decision.rule_set_version, application_id, decision.stage_id, decision.outcome)


def decision_made(decision: Decision, application_id: str, *, decided_at: datetime) -> dict[str, Any]:
    """The `DecisionMade` payload the live consumer publishes; folding it back marks the stage decided."""
    return DecisionMade(
        decision_id=decision_id(decision, application_id), application_id=application_id,
        stage_id=decision.stage_id, rule_set_version=decision.rule_set_version, rule_id=decision.rule_id,
        outcome=decision.outcome, mode=decision.mode, dry_run=decision.dry_run,  # type: ignore[arg-type]
        target_stage_id=decision.target_stage_id, archive_reason_id=decision.archive_reason_id,
        command_id=decision_command_id(decision, application_id), explanation=dict(decision.explanation),
        decided_at=decided_at.isoformat(),
    ).model_dump(mode="json")


class _Common(TypedDict):
    """The fields every command of a decision carries."""

    command_id: str
    application_id: str


class _Trace(TypedDict):
    """Which decision, of which rule and rule-set version, a command carries out."""

    decision_id: str
    rule_set_version: int
    rule_id: str


def command_for(decision: Decision, application_id: str, *, job_id: str | None = None) -> Command | None:
    """What to ask the executor or notifier to do; None in shadow mode or dry-run."""
    cid = decision_command_id(decision, application_id)
    if cid is None:
        return None
    common: _Common = {"command_id": cid, "application_id": application_id}
    trace: _Trace = {"decision_id": decision_id(decision, application_id),
                     "rule_set_version": decision.rule_set_version, "rule_id": decision.rule_id}
    model: Payload
    if decision.outcome == "advance":
        model = AdvanceApplication(**common, **trace, from_stage_id=decision.stage_id,
                                   to_stage_id=str(decision.target_stage_id), job_id=job_id)
    elif decision.outcome == "propose_rejection":
        model = ProposeRejection(**common, **trace, stage_id=decision.stage_id, job_id=job_id,
                                 archive_reason_id=str(decision.archive_reason_id),
                                 explanation=dict(decision.explanation))
    elif decision.outcome == "archive":
        by = decision.explanation.get("slack_user_id")
        model = ArchiveApplication(**common, **trace, from_stage_id=decision.stage_id,
                                   archive_reason_id=str(decision.archive_reason_id),
                                   archive_email_template_id=decision.archive_email_template_id,
                                   decided_by=f"recruiter:{by}" if by else f"rule:{decision.rule_id}",
                                   job_id=job_id)
    elif decision.outcome == "timeout":
        waiting = decision.explanation.get("waiting_for") or []
        model = SendAlert(**common, kind="rule_timeout", text=(
            f"Application {application_id} has waited in stage {decision.stage_id} past the "
            f"{decision.explanation.get('timeout')} timeout of rule {decision.rule_id} "
            f"(v{decision.rule_set_version}); still waiting for {len(waiting)} thing(s): "
            + "; ".join(str(w.get("detail")) for w in waiting[:5])))
    else:
        raise ValueError(f"unknown decision outcome {decision.outcome!r}")
    return Command(type(model).__name__, cid, model.model_dump(mode="json"))


def evaluation_summary(evaluation: Evaluation) -> dict[str, Any]:
    """A JSON-able view of any evaluation, for logs and the pending read model."""
    if isinstance(evaluation, Decision):
        return {"kind": "decision", "outcome": evaluation.outcome, "rule_id": evaluation.rule_id,
                "rule_set_version": evaluation.rule_set_version, "stage_id": evaluation.stage_id,
                "explanation": dict(evaluation.explanation)}
    if isinstance(evaluation, Wait):
        return {"kind": "wait", "stage_id": evaluation.stage_id, "rule_id": evaluation.rule_id,
                "until": evaluation.until.isoformat() if evaluation.until else None,
                "waiting_for": [r.as_dict() for r in evaluation.reasons]}
    kind = "no_rule" if isinstance(evaluation, NoRule) else "not_applicable"
    return {"kind": kind, "stage_id": evaluation.stage_id, "reason": evaluation.reason}

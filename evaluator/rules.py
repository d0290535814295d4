"""Rule-set documents: the schema (pydantic, frozen), validation that locates every problem, loading
from YAML/JSON text, and matching a rule to an application (a job rule beats a plan-wide one).

A document carries no version: the version is assigned when an operator activates it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from contracts.envelope import storable
from evaluator.rules_text import TextRefused, read_document
from evaluator.value_comparison import OPERATORS, ORDERING

_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_DURATION = re.compile(r"(\d+[wdhms])+")
MAX_DURATION = timedelta(days=3650)
"""Ten years: a timer further off than that is a typo, and `now + duration` must stay a datetime."""
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1),
          "m": timedelta(minutes=1), "s": timedelta(seconds=1)}


@dataclass(frozen=True, slots=True)
class Problem:
    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class RuleSetInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _error(kind: str, text: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{text}", {"text": text})


def parse_duration(value: Any) -> timedelta:
    """'30m', '2h', '7d', '1w', '1d12h' (units w d h m s); a timedelta passes through."""
    if isinstance(value, timedelta):
        return value
    text = value.replace(" ", "") if isinstance(value, str) else None
    if not text or not _DURATION.fullmatch(text):
        raise _error("duration", f"invalid duration {_short(value)}: use a number and a unit (w, d, h, m, s), "
                                 "e.g. 30m, 2h, 7d, 1d12h")
    parts = _DURATION_PART.findall(text)
    if any(len(n) > 7 for n, _ in parts):
        raise _error("duration", f"duration {_short(value)} is longer than {MAX_DURATION.days} days")
    total = sum((int(n) * _UNITS[u] for n, u in parts), timedelta())
    if total > MAX_DURATION:
        raise _error("duration", f"duration {_short(value)} is longer than {MAX_DURATION.days} days")
    return total


def _short(value: Any, size: int = 60) -> str:
    """`repr(value)` cut to `size` characters: a problem names a value, it does not echo a document."""
    text = repr(value)
    return text if len(text) <= size else text[:size] + "…"


def format_duration(value: timedelta) -> str:
    seconds, parts = int(value.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


def threshold_problem(operator: str, threshold: Any) -> str | None:
    """Why a threshold does not fit its operator, or None."""
    def number(v: Any) -> bool:  # NaN and inf compare false with everything; JSON cannot carry them
        return (isinstance(v, float) and math.isfinite(v)
                or isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63)

    def scalar(v: Any) -> bool:
        return isinstance(v, bool) or isinstance(v, str) and v != "" or number(v)

    if operator in ORDERING and (isinstance(threshold, bool) or not number(threshold)):
        return f"threshold for '{operator}' must be a number (finite, within 64 bits), got {_short(threshold)}"
    if operator in ("==", "!=") and not scalar(threshold):
        return f"threshold for '{operator}' must be a number, boolean or string (numbers finite), got {_short(threshold)}"
    if operator == "in" and (not isinstance(threshold, list) or not threshold
                             or not all(scalar(t) for t in threshold)):
        return f"threshold for 'in' must be a non-empty list of numbers, booleans or strings (numbers finite), got {_short(threshold)}"
    return None


class Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Requirement(Doc):
    interview_id: str = Field(min_length=1)
    field: str = Field(min_length=1, description="feedback form field path")
    operator: str
    threshold: Any
    aggregate: Literal["all", "any", "average"] = Field(default="all", validate_default=True)
    required: StrictBool = True

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, v: str) -> str:
        if v not in OPERATORS:
            raise _error("unknown_operator", f"unknown operator {v!r}; use one of {', '.join(OPERATORS)}")
        return v

    @field_validator("threshold")
    @classmethod
    def _threshold_fits(cls, v: Any, info: ValidationInfo) -> Any:
        problem = threshold_problem(info.data["operator"], v) if "operator" in info.data else None
        if problem:
            raise _error("threshold", problem)
        return v

    @field_validator("aggregate")
    @classmethod
    def _average_needs_numbers(cls, v: str, info: ValidationInfo) -> str:
        operator, threshold = info.data.get("operator"), info.data.get("threshold")
        if v == "average" and operator is not None and "threshold" in info.data and (
                operator == "in" or isinstance(threshold, bool) or not isinstance(threshold, int | float)):
            raise _error("aggregate", "aggregate 'average' needs a numeric threshold and a comparison operator")
        return v


class OnPass(Doc):
    action: Literal["advance"] = "advance"
    target_stage_id: str | None = Field(default=None, min_length=1)


class OnFail(Doc):
    action: Literal["propose_rejection", "archive", "nothing"] = "propose_rejection"
    auto_archive: StrictBool = Field(default=False, validate_default=True)
    archive_reason_id: str | None = Field(default=None, min_length=1, validate_default=True)
    archive_email_template_id: str | None = None

    @field_validator("auto_archive")
    @classmethod
    def _archive_is_opt_in(cls, v: bool, info: ValidationInfo) -> bool:
        action = info.data.get("action")
        if action == "archive" and not v:
            raise _error("archive_opt_in", "action 'archive' rejects without asking anyone; "
                                           "set auto_archive: true to opt in, or use propose_rejection")
        if v and action not in (None, "archive"):
            raise _error("archive_opt_in", f"auto_archive: true only applies to action 'archive', not {action!r}")
        return v

    @field_validator("archive_reason_id")
    @classmethod
    def _reason_needed(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None and info.data.get("action") in ("propose_rejection", "archive"):
            raise _error("archive_reason", f"action {info.data['action']!r} needs an archive_reason_id")
        return v


class Rule(Doc):
    id: str = Field(min_length=1)
    description: str = ""
    interview_plan_id: str = Field(min_length=1)
    stage_id: str = Field(min_length=1)
    job_id: str | None = Field(default=None, min_length=1)
    requirements: tuple[Requirement, ...]
    on_pass: OnPass = OnPass()
    on_fail: OnFail
    quiet_period: Duration | None = None
    timeout: Duration | None = None
    on_timeout: Literal["alert", "nothing"] = "alert"
    feedback_due: Duration | None = None
    """Nudge an interviewer this long after their interview ended; `null` here turns the default off."""
    escalate_after: Duration | None = None
    """Tell the recruiter and hiring manager this long after the nudge; `null` turns the default off."""
    mode: Literal["live", "shadow"] = "live"

    @field_validator("requirements")
    @classmethod
    def _not_empty(cls, v: tuple[Requirement, ...]) -> tuple[Requirement, ...]:
        if not v:
            raise _error("no_requirements", "a rule needs at least one requirement (with none it would "
                                            "advance everyone)")
        return v

    @field_validator("on_pass")
    @classmethod
    def _moves_somewhere(cls, v: OnPass, info: ValidationInfo) -> OnPass:
        if v.target_stage_id is not None and v.target_stage_id == info.data.get("stage_id"):
            raise _error("same_stage", "target_stage_id is the rule's own stage")
        return v

    @field_validator("timeout", "feedback_due", "escalate_after")
    @classmethod
    def _positive(cls, v: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if v is not None and v <= timedelta():
            raise _error("duration", f"{info.field_name} must be longer than zero")
        return v


class Defaults(Doc):
    quiet_period: Duration = timedelta(minutes=30)
    timeout: Duration = timedelta(days=7)
    feedback_due: Duration | None = None
    escalate_after: Duration | None = None

    @field_validator("timeout", "feedback_due", "escalate_after")
    @classmethod
    def _positive(cls, v: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if v is not None and v <= timedelta():
            raise _error("duration", f"{info.field_name} must be longer than zero")
        return v


# (plan, stage) → its rules, built for the rules tuple it was built from
_StageIndex = tuple[tuple[Rule, ...], dict[tuple[str | None, str | None], tuple[Rule, ...]]]


class RuleSet(Doc):
    version: int | None = Field(default=None, description="assigned at activation, not in the file")
    name: str = Field(min_length=1)
    description: str = ""
    dry_run: StrictBool = False
    defaults: Defaults = Defaults()
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _no_conflicts(self) -> RuleSet:
        problems = conflicts((i, r.id, (r.interview_plan_id, r.stage_id, r.job_id)) for i, r in enumerate(self.rules))
        problems += escalations_without_nudges(self.model_dump(exclude_unset=True))
        if problems:
            raise _error("rule_conflict", "; ".join(str(p) for p in problems))
        return self


    _by_stage: _StageIndex | None = PrivateAttr(default=None)
    """(the `rules` it was built from, (plan, stage) -> those rules in order): `match_rule`'s index."""

    def model_post_init(self, context: Any, /) -> None:
        # built eagerly: private attributes take part in `==`, so two equal rule sets need equal indexes
        self._by_stage = self._index()

    def _index(self) -> _StageIndex:
        by_stage: dict[tuple[str | None, str | None], list[Rule]] = {}
        for rule in self.rules:
            by_stage.setdefault((rule.interview_plan_id, rule.stage_id), []).append(rule)
        return self.rules, {key: tuple(found) for key, found in by_stage.items()}

    def rules_for(self, plan_id: str | None, stage_id: str | None) -> tuple[Rule, ...]:
        """The rules of a plan and stage, in document order."""
        # not `self._by_stage`: pydantic's __getattr__ is slow
        index: _StageIndex | None = cast("dict[str, Any]", self.__pydantic_private__)["_by_stage"]
        if index is None or index[0] is not self.rules:  # a copy with other rules (`model_copy(update=...)`)
            index = self._index()
        return index[1].get((plan_id, stage_id), ())

    def quiet_period_for(self, rule: Rule) -> timedelta:
        return rule.quiet_period if rule.quiet_period is not None else self.defaults.quiet_period

    def timeout_for(self, rule: Rule) -> timedelta:
        return rule.timeout if rule.timeout is not None else self.defaults.timeout

    def feedback_due_for(self, rule: Rule) -> timedelta | None:
        """The rule's own `feedback_due` when it names one (`null`: no nudges), else the default."""
        return rule.feedback_due if "feedback_due" in rule.model_fields_set else self.defaults.feedback_due

    def escalate_after_for(self, rule: Rule) -> timedelta | None:
        return rule.escalate_after if "escalate_after" in rule.model_fields_set else self.defaults.escalate_after


def conflicts(entries: Iterable[tuple[int, Any, Any]]) -> list[Problem]:
    """Duplicate rule ids and two rules for the same (plan, stage, job) — which one would apply?"""
    problems: list[Problem] = []
    ids: dict[Any, int] = {}
    keys: dict[Any, int] = {}
    for index, rule_id, key in entries:
        if isinstance(rule_id, str):
            if rule_id in ids:
                problems.append(Problem(f"rules[{index}].id", f"duplicate rule id {rule_id!r} "
                                                              f"(also rules[{ids[rule_id]}])"))
            ids.setdefault(rule_id, index)
        if key is not None and all(isinstance(k, str | None) for k in key) and key[0] and key[1]:
            if key in keys:
                scope = f"job {key[2]!r}" if key[2] else "the whole plan"
                problems.append(Problem(f"rules[{index}]", f"another rule (rules[{keys[key]}]) already covers "
                                                           f"plan {key[0]!r}, stage {key[1]!r} for {scope}"))
            keys.setdefault(key, index)
    return problems


def escalations_without_nudges(doc: dict[str, Any]) -> list[Problem]:
    """`escalate_after` counts from the feedback nudge: without a `feedback_due` (in the rule or the
    defaults) there is no nudge to count from. Read from the document's keys (a rule's own `null`
    turns a default off)."""
    defaults: dict[str, Any] = doc["defaults"] if isinstance(doc.get("defaults"), dict) else {}
    rules: list[Any] = doc["rules"] if isinstance(doc.get("rules"), list) else []
    default_due, default_escalate = defaults.get("feedback_due"), defaults.get("escalate_after")
    problems = []
    if default_escalate is not None and default_due is None and any(
            isinstance(r, dict) and "feedback_due" not in r for r in rules):
        problems.append(Problem("defaults.escalate_after", "escalate_after counts from the feedback nudge: set "
                                                           "defaults.feedback_due too (e.g. 24h)"))
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        due = rule["feedback_due"] if "feedback_due" in rule else default_due
        if rule.get("escalate_after") is not None and due is None:
            problems.append(Problem(f"rules[{i}].escalate_after", "escalate_after counts from the feedback nudge: "
                                                                  "set feedback_due in this rule or in defaults "
                                                                  "(e.g. 24h)"))
    return problems


def _location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "document"


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "tuple_type":
        return f"should be a list (got {_short(err.get('input'))})"
    if kind in ("unknown_operator", "threshold", "aggregate", "archive_opt_in", "archive_reason",
                "no_requirements", "same_stage", "duration"):
        return err["msg"]
    return f"{err['msg']} (got {_short(err.get('input'))})"


def validate_document(doc: Any) -> list[Problem]:
    """Every problem in a rule-set document, each with its location; empty when it is valid."""
    if not isinstance(doc, dict):
        return [Problem("document", f"a rule set must be a mapping, got {type(doc).__name__}")]
    problems: list[Problem] = []
    try:
        RuleSet.model_validate(doc)
    except ValidationError as exc:
        problems += [Problem(_location(tuple(e["loc"])), _message(e)) for e in exc.errors()
                     if e["type"] != "rule_conflict"]
    problems += escalations_without_nudges(doc)
    rules = doc.get("rules")
    if isinstance(rules, list):
        problems += conflicts(
            (i, r.get("id"), (r.get("interview_plan_id"), r.get("stage_id"), r.get("job_id")))
            for i, r in enumerate(rules) if isinstance(r, dict))
    return list(dict.fromkeys(problems))


def parse_document(text: str | bytes, *, fmt: Literal["yaml", "json"] = "yaml") -> Any:
    """The document in a rule file, read within `evaluator.rules_text`'s limits, with text PostgreSQL
    cannot store replaced as in every event (`contracts.envelope.storable`); `RuleSetInvalid` if not."""
    try:
        return storable(read_document(text, fmt=fmt))
    except TextRefused as exc:
        raise RuleSetInvalid([Problem("document", str(exc))]) from exc


def load_rule_set(text: str, *, fmt: Literal["yaml", "json"] = "yaml") -> RuleSet:
    """Parse and validate a document; raises RuleSetInvalid listing every problem."""
    doc = parse_document(text, fmt=fmt)
    problems = validate_document(doc)
    if problems:
        raise RuleSetInvalid(problems)
    return RuleSet.model_validate(doc)


def versioned(document: dict[str, Any], version: int) -> RuleSet:
    """The rule set an activation (`RuleSetActivated`) made live, carrying its version."""
    return RuleSet.model_validate({**document, "version": version})


def match_rule(rule_set: RuleSet, plan_id: str | None, stage_id: str | None, job_id: str | None) -> Rule | None:
    """The rule for an application in a stage: the job's own rule if there is one, else the plan-wide one."""
    plan_wide = None
    for rule in rule_set.rules_for(plan_id, stage_id):
        if rule.job_id is not None and rule.job_id == job_id:
            return rule
        if rule.job_id is None:
            plan_wide = rule
    return plan_wide

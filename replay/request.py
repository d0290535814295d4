"""What a replay is asked to do (`ReplayRequest`): what-if a rule set, or verify fidelity, and the
request document the API accepts for it, checked with every problem named. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from evaluator.pure_core import Problem, RuleSet, parse_document, validate_document
from replay.replayer import CURRENT, RuleSource

_OPTIONS = {"rules", "against", "since", "until", "verify", "limit", "name", "against_name", "workers"}
MAX_WORKERS = 8


@dataclass(frozen=True)
class ReplayRequest:
    """What to replay: a what-if (`rules` against the rules that were live, or against `against`)
    or a fidelity check (`verify`: the rules that were live, compared with the recorded decisions)."""

    rules: RuleSet | None = None
    against: RuleSet | None = None  # None: the rule sets that were live at each point
    since: datetime | None = None
    until: datetime | None = None
    verify: bool = False
    before_name: str = "current"
    after_name: str = "proposed"
    workers: int = 1  # processes to split the applications over; 0: by the log's size (`auto_workers`)

    def lanes(self) -> dict[str, RuleSource]:
        if self.verify:
            return {"live": CURRENT}
        if self.rules is None:
            raise ValueError("a what-if needs the rule set to try (or use verify)")
        before = self.before_name
        after = self.after_name if self.after_name != before else f"{self.after_name} (new)"
        return {before: self.against if self.against is not None else CURRENT, after: self.rules}



class RequestInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def parse_moment(value: Any) -> datetime:
    """'2026-01-31' (midnight UTC) or an ISO date-time (UTC when it names no zone)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a date or date-time, got {value!r}")
    text = value.strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rule_set(value: Any, where: str, problems: list[Problem]) -> RuleSet | None:
    if isinstance(value, str):
        try:
            value = parse_document(value, fmt="json" if value.lstrip()[:1] == "{" else "yaml")
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            return None
    found = validate_document(value)
    problems += [Problem(f"{where}.{p.location}" if p.location != "document" else where, p.message) for p in found]
    return None if found else RuleSet.model_validate(value)


def parse_request(body: Any) -> tuple[ReplayRequest, int | None]:
    """The request document: {rules, against?, since?, until?, verify?, limit?, name?,
    against_name?, workers?}; `rules` and `against` are rule-set documents (or their YAML/JSON
    text), `against` may be "current"; `workers` (processes, 1 to MAX_WORKERS) defaults to the
    log's size (`history.auto_workers`). Raises RequestInvalid listing every problem with its
    location."""
    if not isinstance(body, dict):
        raise RequestInvalid([Problem("body", "expected a mapping with at least `rules` (or `verify: true`)")])
    if isinstance(body.get("rules"), list):
        # a rule-set file posted as it is: say what to wrap it in, not what is wrong with it as a request
        raise RequestInvalid([Problem("body", "this is a rule set, not a replay request: send "
                                              "{\"rules\": <the rule set>} (plus since, until, against... if needed)")])
    problems = [Problem(k, "unknown field") for k in body if k not in _OPTIONS]
    verify = body.get("verify", False)
    if not isinstance(verify, bool):
        problems.append(Problem("verify", "should be true or false"))
    if verify is True:  # a fidelity check replays the rules that were live: a rule set to try is a mistake
        problems += [Problem(k, "not with `verify` (it replays the rules that were live)")
                     for k in ("rules", "against") if k in body and not (
                         k == "against" and isinstance(body[k], str) and body[k].strip().lower() == "current")]
    rules = against = None
    if "rules" in body:
        rules = _rule_set(body["rules"], "rules", problems)
    elif not verify:
        problems.append(Problem("rules", "is required (the rule set to try), unless `verify` is true"))
    raw_against = body.get("against", "current")
    if not (isinstance(raw_against, str) and raw_against.strip().lower() == "current"):
        against = _rule_set(raw_against, "against", problems)
    moments: dict[str, datetime | None] = {}
    for key in ("since", "until"):
        try:
            moments[key] = parse_moment(body[key]) if body.get(key) is not None else None
        except ValueError as exc:
            problems.append(Problem(key, f"not a date: {exc}"))
    since, until = moments.get("since"), moments.get("until")
    if since and until and since > until:
        problems.append(Problem("since", "is after `until`: nothing to report"))
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        problems.append(Problem("limit", "should be a positive whole number"))
    workers = body.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or not 1 <= workers <= MAX_WORKERS):
        problems.append(Problem("workers", f"should be a whole number from 1 to {MAX_WORKERS}"))
    if problems:
        raise RequestInvalid(problems)
    request = ReplayRequest(rules=rules, against=against, since=since, until=until,
                            verify=bool(verify), workers=workers or 0, before_name=str(body.get("against_name") or (
                                "current" if against is None else "against")),
                            after_name=str(body.get("name") or (rules.name if rules else "proposed")))
    return request, limit



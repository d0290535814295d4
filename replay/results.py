"""What a replay produces: each lane's decisions (`ReplayResult`), a run over one history with what
the log recorded (`Replay`), the defects `verify` finds between the two, and the merging of runs
over partitions of one log. Plain values, no replay logic: `replay.replayer` makes them,
`replay.report` and the HTTP and CLI surfaces read them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from evaluator.pure_core import Catalog, Evaluation


class ReplayedDecision(NamedTuple):
    """A decision a lane made. A named tuple rather than a frozen dataclass: a long replay makes
    hundreds of thousands, and a partitioned one sends them between processes, where a tuple
    pickles and builds several times faster."""

    application_id: str
    stage_id: str
    rule_set_version: int
    rule_id: str
    outcome: str
    decided_at: datetime
    target_stage_id: str | None
    mode: str
    dry_run: bool
    explanation_json: bytes
    archive_reason_id: str | None = None

    @property
    def explanation(self) -> dict[str, Any]:
        explanation: dict[str, Any] = orjson.loads(self.explanation_json)
        return explanation

    def key(self) -> tuple[int, str, str, str]:
        return (self.rule_set_version, self.application_id, self.stage_id, self.outcome)


@dataclass(repr=False)
class ReplayResult:
    """One lane: every decision it made (in order) and, for each application still waiting or
    left undecided in its stage, its last evaluation (what a report explains a non-decision with)."""

    name: str
    decisions: list[ReplayedDecision] = field(default_factory=list)
    finals: dict[str, Evaluation] = field(default_factory=dict)
    evaluations: int = 0
    shared: int = 0
    skipped: int = 0
    timers_fired: int = 0
    versions: set[int] = field(default_factory=set)
    counted: Counter[str] = field(default_factory=Counter)
    """Decisions by outcome that are no longer in `decisions` (see `summarise`)."""
    left: dict[tuple[str, str | None], Evaluation] = field(default_factory=dict)
    """(application, stage) -> what the lane still waited for (or lacked a rule for) when the
    application left that stage, or finished in it, without the lane's decision there: what a
    report says of a side that never decided in a stage the application has moved on from."""

    def __repr__(self) -> str:  # short: asyncio and error reports print results whole
        return (f"ReplayResult({self.name!r}, {len(self.decisions)} decisions, {len(self.finals)} finals, "
                f"{self.evaluations} evaluations)")

    def by_outcome(self) -> Counter[str]:
        """How many decisions of each outcome the lane made (listed or summarised)."""
        return Counter(d.outcome for d in self.decisions) + self.counted

    def summarise(self) -> None:
        """Keep only the counts: what a partition of a what-if sends back once it has made its
        share of the diff (the decisions and finals are what it was made from)."""
        self.counted += Counter(d.outcome for d in self.decisions)
        self.decisions = []
        self.finals = {}
        self.left = {}


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a `DecisionMade` in the log says, beyond its key: compared field by field by `verify`."""

    at: datetime
    rule_id: str | None
    target_stage_id: str | None
    archive_reason_id: str | None
    mode: str | None
    dry_run: bool | None


DecisionKey = tuple[int, str, str, str]  # (rule-set version, application, stage, outcome)


@dataclass(repr=False)
class Replay:
    """A run over one history: each lane's result plus what the log itself recorded."""

    lanes: dict[str, ReplayResult]
    recorded: dict[DecisionKey, Recorded] = field(default_factory=dict)
    events: int = 0
    applications: int = 0
    dropped: int = 0
    revived: int = 0
    revived_ids: set[str] = field(default_factory=set)
    first_at: datetime | None = None
    last_at: datetime | None = None
    stage_names: dict[str, str] = field(default_factory=dict)
    """Stage id -> its title, from the interview plans in the log: what a report shows for a stage."""

    def __getitem__(self, name: str) -> ReplayResult:
        return self.lanes[name]

    def __repr__(self) -> str:
        return f"Replay({list(self.lanes.values())!r}, {self.events} events, {self.applications} applications)"


@dataclass(frozen=True, slots=True)
class Defect:
    """A difference between recorded decisions and the ones the replay made with the same rules."""

    kind: str  # missing (recorded, not reproduced) | unexpected (reproduced, never recorded) | different
    rule_set_version: int
    application_id: str
    stage_id: str
    outcome: str
    at: datetime
    detail: str = ""

    def __str__(self) -> str:
        verb = {"missing": "recorded but not reproduced", "unexpected": "reproduced but never recorded",
                "different": "reproduced differently"}[self.kind]
        return (f"{verb}: v{self.rule_set_version} {self.application_id} stage {self.stage_id} "
                f"{self.outcome} at {self.at.isoformat()}" + (f" ({self.detail})" if self.detail else ""))


def verify(result: ReplayResult, recorded: Mapping[DecisionKey, Recorded], *,
           ignore_dry_run: bool = False) -> list[Defect]:
    """Recorded decisions vs the ones a CURRENT lane made. Each (version, application, stage,
    outcome) must be made by both, by the same rule, with the same target stage, archive reason,
    mode and dry-run flag. `ignore_dry_run`: the live service ran with DRY_RUN forced on."""
    made: dict[DecisionKey, ReplayedDecision] = {}
    for d in result.decisions:
        made.setdefault(d.key(), d)
    defects = [Defect("missing", *key, rec.at) for key, rec in recorded.items() if key not in made]
    defects += [Defect("unexpected", *key, d.decided_at) for key, d in made.items() if key not in recorded]
    for key, rec in recorded.items():
        got = made.get(key)
        if got is None:
            continue
        theirs = {"rule_id": rec.rule_id, "target_stage_id": rec.target_stage_id,
                  "archive_reason_id": rec.archive_reason_id, "mode": rec.mode,
                  **({} if ignore_dry_run else {"dry_run": rec.dry_run})}
        ours = {"rule_id": got.rule_id, "target_stage_id": got.target_stage_id,
                "archive_reason_id": got.archive_reason_id, "mode": got.mode, "dry_run": got.dry_run}
        diff = [f"{k}: recorded {v!r}, replayed {ours[k]!r}" for k, v in theirs.items()
                if v is not None and v != ours[k]]
        if diff:
            defects.append(Defect("different", *key, rec.at, "; ".join(diff)))
    return sorted(defects, key=lambda d: (d.at, d.application_id, d.kind))


def stage_names(catalog: Catalog) -> dict[str, str]:
    """Each titled stage's title; "title (plan title)" when plans share the stage's title."""
    titled = [(stage, plan.title) for plan in catalog.plans.values() for stage in plan.stages if stage.title]
    shared = Counter(stage.title for stage, _ in titled)
    return {stage.id: f"{stage.title} ({plan})" if shared[stage.title] > 1 and plan else str(stage.title)
            for stage, plan in titled}


def merge(parts: Iterable[Replay]) -> Replay:
    """Runs over disjoint sets of applications (partitions of one log) as one run."""
    parts = list(parts)
    if not parts:
        return Replay({})
    out = Replay({name: ReplayResult(name) for name in parts[0].lanes})
    for part in parts:
        for name, lane in part.lanes.items():
            into = out.lanes[name]
            into.decisions.extend(lane.decisions)
            into.finals.update(lane.finals)
            into.left.update(lane.left)
            into.evaluations += lane.evaluations
            into.shared += lane.shared
            into.skipped += lane.skipped
            into.timers_fired += lane.timers_fired
            into.versions |= lane.versions
            into.counted += lane.counted
        for key, rec in part.recorded.items():
            out.recorded.setdefault(key, rec)
        out.revived_ids |= part.revived_ids
        out.events += part.events
        out.applications += part.applications
        out.dropped += part.dropped
        out.revived += part.revived
        out.first_at = min((t for t in (out.first_at, part.first_at) if t), default=None)
        out.last_at = max((t for t in (out.last_at, part.last_at) if t), default=None)
        out.stage_names.update(part.stage_names)
    for lane in out.lanes.values():
        lane.decisions.sort(key=lambda d: (d.decided_at, d.application_id, d.stage_id))
    return out


def substitute(run: Replay, exact: Replay, application_ids: set[str]) -> Replay:
    """`run` with the results for `application_ids` taken from `exact` (a replay of just those
    applications that kept everything in memory)."""
    for name, lane in run.lanes.items():
        better = exact.lanes[name]
        lane.decisions = [d for d in lane.decisions if d.application_id not in application_ids]
        lane.decisions += [d for d in better.decisions if d.application_id in application_ids]
        lane.decisions.sort(key=lambda d: (d.decided_at, d.application_id, d.stage_id))
        for app in application_ids:
            lane.finals.pop(app, None)
            if app in better.finals:
                lane.finals[app] = better.finals[app]
        lane.left = {k: v for k, v in lane.left.items() if k[0] not in application_ids}
        lane.left.update((k, v) for k, v in better.left.items() if k[0] in application_ids)
        lane.evaluations += better.evaluations
        lane.versions |= better.versions
    return run

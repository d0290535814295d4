"""Replay and what-if: fold recorded events through the pure core with a virtual clock, for one or
several rule sets ("lanes") in one pass. Pure: no I/O, no wall clock; `now` is each event's
`recorded_at`, and the quiet-period and timeout timers fire in time order before any later event,
exactly as the live consumer's durable timers would.

Semantics follow `evaluator.live`: after each fact about an application every lane calls
`decide`; a `Decision` is folded back as that lane's own `DecisionMade` (recorded `DecisionMade`
events are not inputs, only the reference for `verify`); catalog changes and rule-set activations
re-evaluate the applications whose result they can change. Work that provably cannot change a
result is skipped (see `_LaneApp.flags`), and finished applications (archived or hired) are
dropped from memory, leaving a tombstone.

Why one module of ~600 lines: `Replayer` is one state machine whose shortcuts (shared results
between lanes, skipped evaluations, tombstones) are each correct only together with the others;
split apart, a reader could no longer check them side by side. The proofs that need no
`Replayer` state are in `replay/skips.py`, the values a run produces (and `verify`, `merge`) in
`replay/results.py`, the reports in `replay/report.py`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

import orjson

from contracts.envelope import Envelope, as_utc, parse_time
from contracts.event_log import LoggedEvent
from evaluator.pure_core import (
    APPLICATION_EVENT_TYPES,
    CATALOG_EVENT_TYPES,
    DRAFT_VERSION,
    FINAL_OUTCOMES,
    AppState,
    Catalog,
    Decision,
    DecisionRecord,
    Evaluation,
    NoRule,
    NotApplicable,
    Position,
    RuleSet,
    ScheduleFact,
    Stamp,
    Wait,
    application_of,
    decide,
    decision_command_id,
    decision_id,
    evolve,
    evolve_catalog,
    match_rule,
    versioned,
)
from replay.results import (
    Recorded,
    Replay,
    ReplayedDecision,
    ReplayResult,
    stage_names,
    substitute,
)
from replay.skips import schedule_keeps_wait

CURRENT: Final = "current"
"""A lane's rule source meaning: the rule set that was live at each point (from `RuleSetActivated`)."""

RuleSource = RuleSet | str | None
SHARED_TYPES = CATALOG_EVENT_TYPES | {"RuleSetActivated"}
"""Events every application's evaluation reads: the plans and the rules in force."""
CLOCK_TICK = "ClockTick"
"""An event that only moves the clock (the end of a read that left other applications out)."""
Event = Envelope | LoggedEvent
"""What the replay folds: an envelope, or an event_log row read the cheap way (same fields)."""
FACT_TYPES = APPLICATION_EVENT_TYPES - {"DecisionMade"}
_STABLE_UNDER = frozenset({"FeedbackSubmitted", "InterviewScheduleUpdated"})
_SETTLED, _CATALOG, _RULES = 1, 2, 4
_UNDECIDED = (Wait, NoRule)


class _LaneApp:
    """One lane's view of one application. `flags` says which inputs can change `last`:
    _SETTLED: no feedback or schedule event can (position, rules and decided marks decide it);
    _CATALOG: a catalog change can; _RULES: a different rule set can."""

    __slots__ = ("decisions", "last", "flags", "timer", "waiting_on", "stale_at")

    def __init__(self) -> None:
        self.decisions: Mapping[str, Any] = {}
        self.last: Evaluation | None = None
        self.flags = 0
        self.timer: datetime | None = None
        self.waiting_on: frozenset[str | None] = frozenset()
        self.stale_at: datetime | None = None


class _App:
    __slots__ = ("facts", "lanes")

    def __init__(self, facts: AppState, n: int) -> None:
        self.facts = facts
        self.lanes = [_LaneApp() for _ in range(n)]


class _Lane:
    __slots__ = ("name", "source", "rules", "result")

    def __init__(self, name: str, source: RuleSource) -> None:
        self.name = name
        self.source = source
        self.rules: RuleSet | None = None if source == CURRENT else source  # type: ignore[assignment]
        self.result = ReplayResult(name)

    @property
    def version(self) -> int:
        return self.rules.version if self.rules is not None and self.rules.version is not None else DRAFT_VERSION


def _with_decisions(facts: AppState, decisions: Mapping[str, Any]) -> AppState:
    """The application's facts with one lane's own decisions (the facts themselves when it has
    none: the facts never hold decisions, recorded ones are not inputs)."""
    return facts.updated(decisions=decisions) if decisions else facts


def _touches(decisions: Mapping[str, Any], stage_id: str, facts: AppState) -> bool:
    """Whether a lane's own decisions bear on `decide` in this stage: one made in it, or one
    carried out (which moves the application away from where its snapshot says)."""
    for d in decisions.values():
        if d.stage_id == stage_id:
            return True
        if d.command_id is not None and d.command_id in facts.commands:
            return True
    return False


def _rule_view(fact: ScheduleFact) -> tuple[Any, ...]:
    """What `decide` reads of a schedule: its stage, whether it is cancelled, when it started and
    its interview events with the interviewers whose feedback is required."""
    return (fact.id, fact.stage_id, fact.cancelled, fact.created_at or fact.stamp[0],
            sorted((e.id, e.interview_id, required) for e, required in fact.events))


def _same_schedule_for_rules(before: AppState, after: AppState, env: Event) -> bool:
    """A schedule update that changes nothing `decide` reads (a status among the not-cancelled
    ones, times, links): every lane's result stays as it was."""
    sid = (env.payload.get("schedule") or {}).get("id")
    if not isinstance(sid, str):  # no such schedule before or after
        return True
    old, new = before.schedules.get(sid), after.schedules.get(sid)
    if old is None or new is None or old is new:
        return old is new
    return _rule_view(old) == _rule_view(new)


def _same_position(before: AppState, after: AppState, decisions: Mapping[str, Any]) -> bool:
    """A snapshot that leaves the lane's position (stage, status, job, plan, entered-at) as it was:
    `decide` reads the snapshot only through `position()`."""
    if decisions and (before.commands or after.commands):  # else the decisions do not move it
        before, after = _with_decisions(before, decisions), _with_decisions(after, decisions)
    return before.position() == after.position()


def _position_of(facts: AppState, decisions: Mapping[str, Any]) -> Callable[[], Position | None]:
    """The lane's position, computed only if asked for (its decisions move it only when one of
    them was carried out, which needs a command outcome)."""
    if not decisions or not facts.commands:
        return facts.position
    return lambda: _with_decisions(facts, decisions).position()


def _terminal(state: AppState) -> bool:
    snap = state.snapshot
    return snap is not None and snap.stage_id is not None and snap.status not in (None, "Active")


class Replayer:
    """Feed envelopes in log order, then `finish()`. Lanes: name -> a RuleSet (what-if; a draft
    decides as version 0), `CURRENT`, or None (no rules).

    `only`: replay just these applications (by event key); every other event still moves the
    virtual clock, so timers fire exactly as in a replay of everything.

    `shortcuts=False` turns off every optimisation (skipping evaluations that cannot change a
    result, sharing results between lanes, dropping finished applications): `decide` then runs
    for every lane after every fact, as the live consumer does. The tests hold the two equal.
    `schedule_skips=False` turns off just the schedule-update proof of `evaluator.replay_skip`
    (for the tests that compare with and without it)."""

    def __init__(self, lanes: Mapping[str, RuleSource], *, since: datetime | None = None,
                 until: datetime | None = None, drop_finished: bool = True, share_results: bool = True,
                 shortcuts: bool = True, schedule_skips: bool = True, only: set[str] | None = None) -> None:
        self._lanes = [_Lane(name, source) for name, source in lanes.items()]
        self._only = only
        self._since = as_utc(since) if since else None
        self._until = as_utc(until) if until else None
        self._shortcuts = shortcuts
        self._schedule_skips = shortcuts and schedule_skips
        self._drop = drop_finished and shortcuts
        self._share_results = share_results and shortcuts
        self._same_rule: dict[tuple[int, int, str | None, str, str | None], bool] = {}
        self._apps: dict[str, _App] = {}
        self._tombs: dict[str, Stamp] = {}
        self._catalog = Catalog()
        self._seen_versions: set[int] = set()
        self._timers: list[tuple[datetime, int, str, int]] = []
        self._tick = 0
        self.clock: datetime | None = None
        self.run = Replay({lane.name: lane.result for lane in self._lanes})

    # --- input -------------------------------------------------------------------------------

    def feed_many(self, events: Iterable[Event]) -> None:
        for env in events:
            self.feed(env)

    def feed_logged(self, events: Iterable[LoggedEvent]) -> None:
        """Rows read from event_log; a row's `clock` (set when the read left out other
        applications' rows) moves the virtual clock as those rows would have."""
        for env in events:
            self.feed(env, env.clock)

    def feed(self, env: Event, clock: datetime | None = None) -> None:
        at = as_utc(env.recorded_at)
        if self._until is not None and at > self._until:
            return
        kind = env.event_type
        run = self.run
        if kind != CLOCK_TICK:
            run.events += 1
            if run.first_at is None:
                run.first_at = at
            run.last_at = at
        if clock is not None and clock > at:
            at = clock
        now = at if self.clock is None or at > self.clock else self.clock
        self.clock = now
        if self._timers and self._timers[0][0] <= now:
            self._fire(now)
        if self._only is not None and env.key not in self._only and kind not in SHARED_TYPES:
            return  # another application's event: it only moves the clock
        if kind in FACT_TYPES:
            self._fact(env, now)
        elif kind in CATALOG_EVENT_TYPES:
            catalog = evolve_catalog(self._catalog, env)
            if catalog is not self._catalog:
                self._catalog = catalog
                self._reevaluate(range(len(self._lanes)), _CATALOG, now)
        elif kind == "RuleSetActivated":
            self._activated(env, now)
        elif kind == "DecisionMade":
            self._recorded(env)
        elif kind == "EvaluationRequested":
            app = self._apps.get(application_of(env))
            if app is not None:
                self._evaluate_lanes(app, list(range(len(self._lanes))), now)

    def finish(self, horizon: datetime | None = None) -> Replay:
        """Fire the timers due by `horizon` (all of them when None; never past `until`), and
        settle each application's last evaluation."""
        end = min((t for t in (as_utc(horizon) if horizon else None, self._until) if t is not None), default=None)
        self._fire(end)
        for app_id, app in self._apps.items():
            self._settle(app_id, app)
        self.run.applications = len(self._apps) + len(self._tombs)
        self.run.stage_names = stage_names(self._catalog)
        return self.run

    # --- steps -------------------------------------------------------------------------------

    def _fact(self, env: Event, now: datetime) -> None:
        app_id = application_of(env)
        app = self._apps.get(app_id)
        if app is None:
            if app_id in self._tombs and not self._revive(app_id, env):
                return
            app = self._apps[app_id] = _App(AppState(app_id), len(self._lanes))
        before = app.facts
        after = evolve(before, env)
        kind = env.event_type
        if self._shortcuts and (after is before or (
                kind == "InterviewScheduleUpdated" and _same_schedule_for_rules(before, after, env))):
            app.facts = after
            for lane in self._lanes:  # nothing `decide` reads changed
                lane.result.skipped += 1
            return
        app.facts = after
        if kind == "ApplicationSnapshotted":
            self._leaving(app_id, app, before, after)
        if not self._shortcuts:
            self._evaluate_lanes(app, list(range(len(self._lanes))), now)
            return
        stable = kind in _STABLE_UNDER
        submitter = env.payload.get("submitted_by_user_id") if kind == "FeedbackSubmitted" else None
        sid = (env.payload.get("schedule") or {}).get("id") if kind == "InterviewScheduleUpdated" else None
        todo = []
        unmoved: bool | None = None
        for i, lane in enumerate(self._lanes):
            la = app.lanes[i]
            if la.last is not None:
                if stable and la.flags & _SETTLED:
                    lane.result.skipped += 1
                    continue
                if kind == "FeedbackSubmitted" and la.waiting_on and any(v != submitter for v in la.waiting_on):
                    # someone else's feedback is still due for this stage: the result stays a Wait
                    # with the same timer; only its reasons would change (refreshed on finish)
                    la.waiting_on = la.waiting_on - {submitter}
                    la.stale_at = now
                    lane.result.skipped += 1
                    continue
                if kind == "ApplicationSnapshotted":
                    # without a command outcome no lane's decisions move it: one answer for every lane
                    if unmoved is None or before.commands or after.commands:
                        unmoved = _same_position(before, after, la.decisions)
                    if unmoved:
                        lane.result.skipped += 1
                        continue
                if kind == "InterviewScheduleUpdated" and self._schedule_skips and isinstance(la.last, Wait):
                    due = schedule_keeps_wait(before, after, sid, la.last, _position_of(after, la.decisions), now)
                    if due is not None:  # still a Wait with the same timer: only its reasons change
                        la.waiting_on = due
                        la.stale_at = now
                        lane.result.skipped += 1
                        continue
            todo.append(i)
        self._evaluate_lanes(app, todo, now)
        if self._drop and kind == "ApplicationSnapshotted" and _terminal(after):
            self._bury(app_id, app)

    def _leaving(self, app_id: str, app: _App, before: AppState, after: AppState) -> None:
        """A snapshot that takes the application out of a stage (or ends it there) in which a lane
        was still waiting, or had no rule: keep that lane's last word on the stage (refreshed
        first when shortcuts left it stale) for the report."""
        for i, lane in enumerate(self._lanes):
            la = app.lanes[i]
            last = la.last
            if last is None or type(last) not in _UNDECIDED or last.stage_id is None:
                continue
            pos = _position_of(after, la.decisions)()
            if pos is not None and pos.stage_id == last.stage_id and pos.status in (None, "Active"):
                continue
            if la.stale_at is not None:
                state = _with_decisions(before, la.decisions)
                last = decide(state, self._catalog, lane.rules, la.stale_at)
            lane.result.left[(app_id, last.stage_id)] = last

    def _evaluate_lanes(self, app: _App, lanes: list[int], now: datetime) -> None:
        """Evaluate several lanes; a lane whose rule for the application's stage equals one
        already evaluated, neither with a decision of its own there before, takes that result
        (re-versioned)."""
        done: list[tuple[int, Evaluation]] = []
        snap = app.facts.snapshot
        stage = snap.stage_id if snap is not None else None
        for i in lanes:
            clean = stage is not None and self._share_results and not _touches(app.lanes[i].decisions, stage,
                                                                                  app.facts)
            shared = self._share(app, i, done) if done and clean else None
            if shared is not None:
                self._evaluate(app, i, now, shared)
            else:
                self._evaluate(app, i, now)
            last = app.lanes[i].last
            if last is not None and clean:
                done.append((i, last))

    def _evaluate(self, app: _App, i: int, now: datetime, shared: Evaluation | None = None) -> None:
        lane = self._lanes[i]
        la = app.lanes[i]
        facts = app.facts
        state = _with_decisions(facts, la.decisions)
        rules = lane.rules
        if shared is None:
            evaluation = decide(state, self._catalog, rules, now)
            lane.result.evaluations += 1
        else:
            evaluation = shared
            lane.result.shared += 1
        la.last = evaluation
        la.stale_at = None
        la.waiting_on = frozenset()
        la.timer = None
        if isinstance(evaluation, Decision):
            self._decided(lane, la, state, evaluation, now)
            la.flags = _RULES | (_SETTLED if evaluation.outcome in FINAL_OUTCOMES else 0)
        elif isinstance(evaluation, Wait):
            if evaluation.stage_id is None:
                la.flags = _SETTLED  # no position yet: only a snapshot changes that
            else:
                la.flags = _RULES
                for r in evaluation.reasons:
                    if r.kind == "interview_plan":
                        la.flags |= _CATALOG
                la.waiting_on = frozenset(r.interviewer_id for r in evaluation.reasons if r.kind == "feedback")
            if evaluation.until is not None:
                la.timer = evaluation.until
                self._tick += 1
                heapq.heappush(self._timers, (evaluation.until, self._tick, state.application_id, i))
        elif isinstance(evaluation, NoRule):
            la.flags = _SETTLED | _RULES
        else:
            la.flags = self._not_applicable_flags(state, rules, lane.version, evaluation)

    def _share(self, app: _App, i: int, done: list[tuple[int, Evaluation]]) -> Evaluation | None:
        """A result of another lane that `decide` would give this lane too (but for the version).

        `done` holds the lanes evaluated just now that, like this one, had no decision in the
        application's stage and none carried out (so it is where its snapshot says). When both
        rule sets give it the same rule with the same quiet period, timeout and dry-run, `decide`
        reads the same facts through the same rule, and the version appears only in a decision.
        """
        snap = app.facts.snapshot
        if snap is None or snap.stage_id is None:  # then `done` is empty
            return None
        stage = snap.stage_id
        rules = self._lanes[i].rules
        for j, result in done:
            if isinstance(result, Decision) and result.explanation.get("decided_by") == "recruiter":
                continue
            other = self._lanes[j].rules
            if rules is other or self._same_rule_for(rules, other, snap.plan_id, stage, snap.job_id):
                if isinstance(result, Decision):
                    version = self._lanes[i].version
                    return replace(result, rule_set_version=version,
                                   explanation={**result.explanation, "rule_set_version": version})
                return result
        return None

    def _same_rule_for(self, a: RuleSet | None, b: RuleSet | None, plan: str | None, stage: str,
                       job: str | None) -> bool:
        key = (id(a), id(b), plan, stage, job)
        same = self._same_rule.get(key)
        if same is None:
            if a is None or b is None:
                same = a is None and b is None
            else:
                ra, rb = match_rule(a, plan, stage, job), match_rule(b, plan, stage, job)
                same = ra == rb and a.dry_run == b.dry_run and (ra is None or rb is None or (
                    a.quiet_period_for(ra) == b.quiet_period_for(rb) and a.timeout_for(ra) == b.timeout_for(rb)))
            self._same_rule[key] = same
        return same

    @staticmethod
    def _not_applicable_flags(state: AppState, rules: RuleSet | None, version: int,
                              evaluation: NotApplicable) -> int:
        pos = state.position()
        if pos is None or pos.status not in (None, "Active"):
            return _SETTLED
        flags = _RULES
        if evaluation.explanation and evaluation.explanation.get("passed") is True:
            flags |= _CATALOG  # "last stage of the plan": a plan change may give it a next stage
        rule = match_rule(rules, pos.plan_id, pos.stage_id, pos.job_id) if rules is not None else None
        if rule is None or state.decided(version, pos.stage_id):
            flags |= _SETTLED
        return flags

    def _decided(self, lane: _Lane, la: _LaneApp, state: AppState, decision: Decision, now: datetime) -> None:
        app_id = state.application_id
        record = decision_record(decision, app_id, now)
        known = la.decisions.get(record.decision_id)
        if known is None or known.stamp > record.stamp:
            la.decisions = {**la.decisions, record.decision_id: record}
        lane.result.versions.add(decision.rule_set_version)
        if self._since is not None and now < self._since:
            return
        # copied to a bytes object of its own size: orjson's result keeps its whole write buffer
        # (some kilobytes), which for every decision of a long replay adds up to gigabytes
        why = decision.explanation
        explanation = bytes(memoryview(orjson.dumps(why if type(why) is dict else dict(why),
                                                    option=orjson.OPT_NON_STR_KEYS)))
        lane.result.decisions.append(ReplayedDecision(
            app_id, decision.stage_id, decision.rule_set_version, decision.rule_id, decision.outcome, now,
            decision.target_stage_id, decision.mode, decision.dry_run, explanation, decision.archive_reason_id))

    def _fire(self, until: datetime | None) -> None:
        timers = self._timers
        while timers and (until is None or timers[0][0] <= until):
            at, _, app_id, i = heapq.heappop(timers)
            app = self._apps.get(app_id)
            if app is None or app.lanes[i].timer != at:
                continue  # superseded by a later evaluation
            # every lane whose timer for this application falls now fires with it, so a lane with
            # the same rule can take the result instead of deciding again (their heap entries
            # are left stale: each `_evaluate` resets the lane's timer)
            due = [j for j, la in enumerate(app.lanes) if j == i or la.timer == at]
            for j in due:
                self._lanes[j].result.timers_fired += 1
            if len(due) == 1:
                self._evaluate(app, i, at)
            else:
                self._evaluate_lanes(app, due, at)
            if self.clock is None or at > self.clock:
                self.clock = at

    def _reevaluate(self, lanes: Iterable[int], flag: int, now: datetime) -> None:
        """What the live consumer does for its pending applications when the catalog or the rule
        set changes, restricted to the applications whose result that change can affect."""
        lanes = list(lanes)
        for app in list(self._apps.values()):
            todo = [i for i in lanes if app.lanes[i].last is not None
                    and (app.lanes[i].flags & flag or not self._shortcuts)]
            if todo:
                self._evaluate_lanes(app, todo, now)

    def _activated(self, env: Event, now: datetime) -> None:
        """First activation of a version makes it live (the live store ignores repeats); an
        invalid document is ignored (the live consumer cannot apply it either)."""
        try:
            version = int(env.payload["version"])
        except (KeyError, TypeError, ValueError):
            return
        if version in self._seen_versions:
            return
        self._seen_versions.add(version)
        try:
            rules = versioned(env.payload.get("document") or {}, version)
        except ValueError:
            return
        current = [i for i, lane in enumerate(self._lanes) if lane.source == CURRENT]
        for i in current:
            self._lanes[i].rules = rules
        self._same_rule.clear()
        if current:
            self._reevaluate(current, _RULES, now)

    def _recorded(self, env: Event) -> None:
        p = env.payload
        try:
            key = (int(p["rule_set_version"]), str(p["application_id"]), str(p["stage_id"]), str(p["outcome"]))
        except (KeyError, TypeError, ValueError):
            return
        at = parse_time(p.get("decided_at")) or as_utc(env.recorded_at)
        if (self._since is None or at >= self._since) and key not in self.run.recorded:
            self.run.recorded[key] = Recorded(at, p.get("rule_id"), p.get("target_stage_id"),
                                              p.get("archive_reason_id"), p.get("mode"), p.get("dry_run"))

    # --- memory ------------------------------------------------------------------------------

    def _bury(self, app_id: str, app: _App) -> None:
        """An archived or hired application: every lane says "not applicable" until a newer
        snapshot says otherwise, so only the snapshot's stamp is kept."""
        self._settle(app_id, app)
        del self._apps[app_id]
        self._tombs[app_id] = app.facts.snapshot.stamp  # type: ignore[union-attr]
        self.run.dropped += 1

    def _revive(self, app_id: str, env: Event) -> bool:
        """A newer snapshot of a dropped application that is active again starts it afresh (its
        earlier facts are gone: counted in `revived`). Anything else about it changes nothing."""
        if env.event_type != "ApplicationSnapshotted":
            return False
        snap = evolve(AppState(app_id), env).snapshot
        if snap is None or snap.stamp <= self._tombs[app_id]:
            return False
        if snap.stage_id is not None and snap.status not in (None, "Active"):
            self._tombs[app_id] = snap.stamp
            return False
        del self._tombs[app_id]
        self.run.revived += 1
        self.run.revived_ids.add(app_id)
        return True

    def _settle(self, app_id: str, app: _App) -> None:
        for i, lane in enumerate(self._lanes):
            la = app.lanes[i]
            if la.stale_at is not None:
                state = _with_decisions(app.facts, la.decisions)
                la.last = decide(state, self._catalog, lane.rules, la.stale_at)
                la.stale_at = None
            last = la.last
            if last is None or isinstance(last, Decision):
                continue
            if isinstance(last, NotApplicable) and any(d.stage_id == last.stage_id for d in la.decisions.values()):
                continue  # "already decided": the decision itself is in the result
            lane.result.finals[app_id] = last


def replay_lanes(events: Iterable[Event], lanes: Mapping[str, RuleSource], *, since: datetime | None = None,
                 until: datetime | None = None, horizon: datetime | None = None) -> Replay:
    """Every lane over the same events in one pass (plus, for applications reopened after they
    were dropped from memory, a second pass over just their events)."""
    events = events if isinstance(events, list) else list(events)
    replayer = Replayer(lanes, since=since, until=until)
    replayer.feed_many(events)
    run = replayer.finish(horizon)
    if run.revived_ids:
        ids = run.revived_ids
        again = Replayer(lanes, since=since, until=until, drop_finished=False, only=ids)
        again.feed_many(events)
        run = substitute(run, again.finish(horizon), ids)
    return run


def replay(events: Iterable[Event], rules: RuleSource = CURRENT, *, since: datetime | None = None,
           until: datetime | None = None, horizon: datetime | None = None) -> ReplayResult:
    """One rule source over the events: a RuleSet (what-if) or CURRENT (what was live)."""
    return replay_lanes(events, {"replay": rules}, since=since, until=until, horizon=horizon)["replay"]


def decision_record(decision: Decision, application_id: str, decided_at: datetime) -> DecisionRecord:
    """What folding the decision's own `DecisionMade` back gives (`evolve` of `decision_made`),
    without building the event: the hot path of a replay. A test holds the two equal."""
    did = decision_id(decision, application_id)
    at = as_utc(decided_at)
    return DecisionRecord(did, decision.stage_id, decision.rule_set_version, decision.rule_id, decision.outcome,
                          decision.mode, decision.dry_run, decision.target_stage_id, decision.archive_reason_id,
                          decision.explanation.get("archive_email_template_id"),
                          decision_command_id(decision, application_id), (at, did))

"""A generated hiring history and a pure model of the live evaluator that records its decisions in
it, for the replay tests. The model follows `evaluator.live` step for step: one event at a time,
every application event (and `EvaluationRequested`) re-evaluates its application, catalog changes
and rule-set activations re-evaluate every pending one, a `Wait` with a time is a durable timer,
and every decision comes back through the log as `DecisionMade` (which is evaluated again, as
live does). The outside world answers some commands: the executor succeeds or skips, recruiters
click Archive or Keep, Ashby reports the application in its new stage."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import Envelope
from contracts.ids import derive_id
from evaluator.all_facts import application_of
from evaluator.application_state import APPLICATION_EVENT_TYPES
from evaluator.plan_catalog import CATALOG_EVENT_TYPES
from evaluator.pure_core import Decision, Wait, World, decide, decision_made, fold

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PLANS = ("plan-a", "plan-b")
REASON = "reason-not-a-fit"


def stages(plan: str) -> list[str]:
    return [f"{plan}-screen", f"{plan}-onsite", f"{plan}-offer", f"{plan}-archived"]


def rule_doc(*, screen: float = 3, onsite: float = 3, quiet: str = "2h", timeout: str = "5d",
             shadow_plan: str | None = None, archive_plan: str | None = None) -> dict[str, Any]:
    rules = []
    for plan in PLANS:
        for step, threshold in ((0, screen), (1, onsite)):
            on_fail: dict[str, Any] = {"action": "propose_rejection", "archive_reason_id": REASON}
            if plan == archive_plan:
                on_fail = {"action": "archive", "archive_reason_id": REASON, "allow_automatic_archive": True}
            rules.append({
                "id": f"{plan}-{step}", "interview_plan_id": plan, "stage_id": stages(plan)[step],
                "requirements": [{"interview_id": f"int-{plan}-{step}", "field": "overall", "operator": ">=",
                                  "threshold": threshold}],
                "on_fail": on_fail, "quiet_period": quiet, "timeout": timeout,
                "mode": "shadow" if plan == shadow_plan else "live"})
    return {"name": "generated", "rules": rules}


def envelope(kind: str, key: str, payload: dict[str, Any], at: datetime, *, source: str = "ashby",
             event_id: str | None = None, schema_version: int = 1) -> Envelope:
    return Envelope(event_id=event_id or derive_id(kind, key, at.isoformat(), repr(sorted(payload.items()))),
                    event_type=kind, schema_version=schema_version, key=key, occurred_at=at, recorded_at=at,
                    source=source, payload=payload)


def catalog(at: datetime, *, with_offer: bool = True) -> list[Envelope]:
    out = []
    for plan in PLANS:
        names = stages(plan) if with_offer else [s for s in stages(plan) if not s.endswith("offer")]
        data = {"id": plan, "title": plan, "stages": [
            {"id": s, "title": s, "type": "Archived" if s.endswith("archived") else "Active",
             "orderInInterviewPlan": k, "interviewPlanId": plan} for k, s in enumerate(names)]}
        out.append(envelope("InterviewPlanSynced", plan, {"record_id": plan, "data": data}, at))
    out.append(envelope("ArchiveReasonSynced", REASON, {"record_id": REASON, "data": {
        "id": REASON, "text": "Not a fit", "reasonType": "RejectedByOrg", "isArchived": False}}, at))
    return out


def activation(version: int, document: dict[str, Any], at: datetime) -> Envelope:
    return envelope("RuleSetActivated", "ruleset", {"version": version, "document": document,
                                                    "activated_by": "test"}, at, source="operator",
                    event_id=derive_id("ruleset", version))


def snapshot(app: str, plan: str, stage: str, status: str, at: datetime) -> Envelope:
    return envelope("ApplicationSnapshotted", app, {
        "application_id": app, "candidate_id": f"cand-{app}", "job_id": f"job-{plan}", "interview_plan_id": plan,
        "current_stage_id": stage, "status": status, "hiring_team": [], "fetched_at": at.isoformat(), "raw": {}},
        at)


def schedule(app: str, plan: str, step: int, status: str, panel: list[str], created: datetime,
             at: datetime) -> Envelope:
    sid = f"sch-{app}-{step}"
    body = {"id": sid, "status": status, "applicationId": app, "interviewStageId": stages(plan)[step],
            "candidateId": f"cand-{app}", "createdAt": created.isoformat(), "updatedAt": at.isoformat(),
            "interviewEvents": [{
                "id": f"iev-{app}-{step}", "interviewId": f"int-{plan}-{step}", "interviewScheduleId": sid,
                "interviewerUserIds": panel,
                "interviewers": [{"id": u, "email": f"{u}@example.com", "isFeedbackRequired": True} for u in panel],
                "startTime": (created + timedelta(days=1)).isoformat(), "createdAt": created.isoformat(),
                "updatedAt": at.isoformat()}]}
    return envelope("InterviewScheduleUpdated", app, {"action": "interviewScheduleUpdate",
                                                      "webhook_action_id": f"wh-{sid}-{status}", "schedule": body}, at)


def feedback(app: str, plan: str, step: int, user: str, score: Any, submitted: datetime, at: datetime, *,
             v1: bool = False) -> Envelope:
    fid = f"fb-{app}-{step}-{user}"
    common = {"feedback_id": fid, "application_id": app, "submitted_at": submitted.isoformat(),
              "interview_id": f"int-{plan}-{step}", "interview_event_id": f"iev-{app}-{step}",
              "form_definition_id": "form-1"}
    eid = derive_id("feedback", fid, submitted.isoformat())
    if v1:  # the old schema: `submitted_by` and values as a list of {path, value}
        return envelope("FeedbackSubmitted", app, {**common, "submitted_by": user,
                                                   "values": [{"path": "overall", "value": score}]},
                        at, event_id=eid, schema_version=1)
    return envelope("FeedbackSubmitted", app, {**common, "submitted_by_user_id": user,
                                               "submitted_values": {"overall": score}, "raw": {}},
                    at, event_id=eid, schema_version=2)


def application_events(i: int, start: datetime, rnd: random.Random) -> list[Envelope]:
    """One application through up to two stages, with Ashby's habits: duplicates, edits, late and
    missing feedback, cancelled and re-sent schedules, panels that change."""
    app, plan = f"app-{i:04d}", PLANS[i % len(PLANS)]
    out: list[Envelope] = []
    t = start
    for step in (0, 1):
        out.append(snapshot(app, plan, stages(plan)[step], "Active", t))
        panel = sorted({f"usr-{rnd.randrange(12)}" for _ in range(rnd.choice((1, 2, 2, 3)))})
        created = t + timedelta(hours=rnd.uniform(0.5, 3))
        out.append(schedule(app, plan, step, "Scheduled", panel, created, created))
        if rnd.random() < 0.1:  # a panelist added later
            panel = sorted({*panel, f"usr-{rnd.randrange(12)}"})
            out.append(schedule(app, plan, step, "Scheduled", panel, created, created + timedelta(hours=2)))
        interview = created + timedelta(days=1)
        out.append(schedule(app, plan, step, "WaitingOnFeedback", panel, created, interview + timedelta(hours=1)))
        if rnd.random() < 0.05:
            out.append(schedule(app, plan, step, "Cancelled", panel, created, interview + timedelta(hours=2)))
        failing = rnd.random() < 0.3
        for n, user in enumerate(panel):
            if rnd.random() < 0.07:
                continue  # never submits: waits, then the timeout
            late = rnd.random() < 0.12
            submitted = interview + timedelta(hours=rnd.uniform(1, 30) + (80 if late else 0))
            score = rnd.choice((1, 2, "2")) if failing and n == 0 else rnd.choice((3, 4, "4", {"score": 5}, 3.5))
            fb = feedback(app, plan, step, user, score, submitted, submitted + timedelta(minutes=rnd.uniform(0, 40)),
                          v1=rnd.random() < 0.15)
            out.append(fb)
            if rnd.random() < 0.08:  # delivered twice (re-polled)
                out.append(fb.model_copy(update={"recorded_at": fb.recorded_at + timedelta(minutes=3)}))
            if rnd.random() < 0.05:  # edited
                edit = submitted + timedelta(hours=rnd.uniform(0.2, 3))
                out.append(feedback(app, plan, step, user, rnd.choice((2, 4)), edit, edit))
        if rnd.random() < 0.04:
            out.append(envelope("EvaluationRequested", app, {"application_id": app, "requested_by": "test"},
                                interview + timedelta(days=2), source="operator"))
        t = interview + timedelta(days=rnd.uniform(2, 4))
        if failing and rnd.random() < 0.5:
            out.append(snapshot(app, plan, stages(plan)[step], "Archived", t + timedelta(days=2)))
            if rnd.random() < 0.15:  # reopened in Ashby a week later, with one more interview
                again = t + timedelta(days=9)
                out.append(snapshot(app, plan, stages(plan)[step], "Active", again))
                extra = f"usr-{rnd.randrange(12)}"
                out.append(schedule(app, plan, step, "WaitingOnFeedback", sorted({*panel, extra}), created, again))
                out.append(feedback(app, plan, step, extra, 5, again + timedelta(hours=3),
                                    again + timedelta(hours=3)))
            break
    return out


@dataclass
class LiveModel:
    """The live evaluator (and the outside world answering its commands) as a pure loop."""

    seed: int = 0
    answer_commands: bool = True
    world: World = field(default_factory=World)
    pending: dict[str, datetime | None] = field(default_factory=dict)
    log: list[Envelope] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    _later: list[tuple[datetime, int, Envelope]] = field(default_factory=list)
    _n: int = 0
    clock: datetime | None = None

    def __post_init__(self) -> None:
        self.rnd = random.Random(self.seed)

    def run(self, inputs: list[Envelope]) -> list[Envelope]:
        for env in sorted(inputs, key=lambda e: e.recorded_at):
            while self._later and self._later[0][0] <= env.recorded_at:
                self.receive(heapq.heappop(self._later)[2])
            self.receive(env)
        while self._later:
            self.receive(heapq.heappop(self._later)[2])
        return self.log

    def receive(self, env: Envelope) -> None:
        # live's clock is the wall clock when it processes an event: never earlier than before
        now = self.clock = env.recorded_at if self.clock is None else max(self.clock, env.recorded_at)
        self._fire(now)
        self.log.append(env)
        self.world = fold(self.world, env)
        if env.event_type in CATALOG_EVENT_TYPES or env.event_type == "RuleSetActivated":
            for app in sorted(self.pending):
                self.evaluate(app, now)
        elif env.event_type in APPLICATION_EVENT_TYPES or env.event_type == "EvaluationRequested":
            self.evaluate(application_of(env), now)

    def _fire(self, now: datetime) -> None:
        while True:
            due = sorted((at, app) for app, at in self.pending.items() if at is not None and at <= now)
            if not due:
                return
            at, app = due[0]
            self.pending[app] = None
            self.evaluate(app, at)

    def evaluate(self, app: str, now: datetime) -> None:
        result = decide(self.world.app(app), self.world.catalog, self.world.rules(), now)
        if not isinstance(result, Decision):
            self.pending[app] = result.until if isinstance(result, Wait) else None
            return
        self.pending.pop(app, None)
        payload = decision_made(result, app, decided_at=now)
        self.decisions.append(payload)
        echo = envelope("DecisionMade", app, payload, now, source="evaluator", event_id=payload["decision_id"])
        if self.answer_commands and payload["command_id"]:
            self._answer(app, payload, now)
        self.receive(echo)

    def _later_event(self, env: Envelope) -> None:
        self._n += 1
        heapq.heappush(self._later, (env.recorded_at, self._n, env))

    def _answer(self, app: str, d: dict[str, Any], now: datetime) -> None:
        roll = self.rnd.random()
        cid, state = d["command_id"], self.world.app(app)
        plan = state.snapshot.plan_id if state.snapshot else PLANS[0]
        if d["outcome"] in ("advance", "archive"):
            if roll < 0.6:
                at = now + timedelta(minutes=self.rnd.uniform(1, 30))
                self._later_event(envelope("CommandSucceeded", app, {"command_id": cid, "application_id": app},
                                           at, source="executor", event_id=derive_id("outcome", cid, "ok")))
                status, stage = ("Active", d["target_stage_id"]) if d["outcome"] == "advance" \
                    else ("Archived", d["stage_id"])
                if self.rnd.random() < 0.7:
                    self._later_event(snapshot(app, str(plan), str(stage), status, at + timedelta(minutes=20)))
            elif roll < 0.7:
                self._later_event(envelope("CommandSkipped", app, {"command_id": cid, "application_id": app,
                                                                  "reason": "moved"},
                                           now + timedelta(minutes=5), source="executor"))
        elif d["outcome"] == "propose_rejection" and roll < 0.7:
            choice = "archive" if roll < 0.5 else "keep"
            at = now + timedelta(hours=self.rnd.uniform(0.5, 20))
            self._later_event(envelope("RecruiterDecided", app, {
                "proposal_command_id": cid, "application_id": app, "choice": choice, "slack_user_id": "U1"},
                at, source="slack"))
            if self.rnd.random() < 0.2:  # a second click, later
                self._later_event(envelope("RecruiterDecided", app, {
                    "proposal_command_id": cid, "application_id": app, "choice": "keep", "slack_user_id": "U2"},
                    at + timedelta(hours=1), source="slack"))


def generated_inputs(n_apps: int, seed: int, *, activations: list[tuple[float, dict[str, Any]]] | None = None,
                     late_catalog: bool = True) -> list[Envelope]:
    """What the outside world sends for `n_apps` applications starting every 20 minutes, plus the
    catalog first, rule-set activations at the given fractions of the span, and (optionally) a plan
    re-sync half-way that drops the offer stage."""
    rnd = random.Random(seed)
    events = [*catalog(T0 - timedelta(days=1))]
    span = timedelta(minutes=20) * n_apps
    for k, (fraction, doc) in enumerate(activations or [(0.0, rule_doc())], start=1):
        events.append(activation(k, doc, T0 - timedelta(hours=1) + span * fraction))
    for i in range(n_apps):
        events += application_events(i, T0 + timedelta(minutes=20) * i + timedelta(minutes=rnd.uniform(0, 15)), rnd)
    if late_catalog:
        events += catalog(T0 + span * 0.5, with_offer=False)[:1]
        events += catalog(T0 + span * 0.7)[:1]
    return events

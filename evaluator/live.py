"""The live evaluator: fold each application's facts, decide, and write decision + outbox rows +
pending/timer + checkpoint in the consumer's one transaction. It reads only its own tables.

`now` is the wall clock when an event is processed or a timer fires; replay feeds the same core
a virtual clock instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import asyncpg
import structlog

from contracts import subjects
from contracts.commands import COMMAND_SPECS, SendAlert
from contracts.consumers import Delivered
from contracts.envelope import Envelope, parse_time
from contracts.ids import derive_id
from evaluator import store, windows
from evaluator.all_facts import application_of
from evaluator.application_state import APPLICATION_EVENT_TYPES
from evaluator.business_hours import BusinessCalendar
from evaluator.nudging import nudge
from evaluator.plan_catalog import CATALOG_EVENT_TYPES, Catalog, evolve_catalog
from evaluator.pure_core import (
    AppState,
    Decision,
    NotApplicable,
    Wait,
    command_for,
    decide,
    decision_made,
    evaluation_summary,
    evolve,
)
from evaluator.rules import Rule, RuleSet, versioned

log = structlog.get_logger(__name__)
DURABLE = "evaluator-decisions-v1"
_STATUS_OF = {"CommandSucceeded": "succeeded", "CommandSkipped": "skipped", "CommandFailed": "failed"}
_NUDGE_COMMANDS = frozenset({"NudgeInterviewer", "EscalateFeedback"})
_NUDGE_EVENTS = frozenset({"FeedbackNudgeSent", "FeedbackEscalated"})


@dataclass
class Evaluator:
    """Holds the catalog and active rule set in memory, refreshed from its tables each batch."""

    force_dry_run: bool = False
    archive_delay_s: float = 0.0
    """The undo window of an archive (`ARCHIVE_DELAY`); 0 sends it to the executor at once."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    catalog: Catalog = field(default_factory=Catalog)
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar.parse)
    """Business hours for feedback nudges (BUSINESS_HOURS, BUSINESS_TZ, BUSINESS_DAYS)."""
    _catalog_seq: int = 0
    _rules: RuleSet | None = None
    _rule_ids: dict[str, Rule] = field(default_factory=dict)

    async def _refresh(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch("SELECT stream_seq, envelope FROM evaluator_catalog WHERE stream_seq > $1 "
                                "ORDER BY stream_seq", self._catalog_seq)
        for r in rows:
            self.catalog = evolve_catalog(self.catalog, Envelope.model_validate(r["envelope"]))
            self._catalog_seq = r["stream_seq"]
        active = await store.active_rule_set(conn)
        if active is None:
            self._rules = None
        elif self._rules is None or self._rules.version != active[0]:
            self._rules = versioned(active[1], active[0])
            self._rule_ids = {r.id: r for r in self._rules.rules}

    async def handle(self, conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        """The consumer's handler: record facts, then evaluate every application they touched."""
        dirty: dict[str, Envelope] = {}
        everyone = False
        app_rows = []
        for d in batch:
            env = d.envelope
            if env.event_type in CATALOG_EVENT_TYPES:
                await store.add_catalog_event(conn, env, d.stream_seq)
                everyone = True
            elif env.event_type == "RuleSetActivated":
                await store.add_rule_set(conn, int(env.payload["version"]), env.payload.get("document") or {},
                                         env.recorded_at, d.stream_seq)
                everyone = True
            elif env.event_type in APPLICATION_EVENT_TYPES or env.event_type == "EvaluationRequested":
                app_id = application_of(env)
                if env.event_type in APPLICATION_EVENT_TYPES:
                    app_rows.append((app_id, d.stream_seq, env.event_id, env.model_dump(mode="json")))
                dirty[app_id] = env
                await self._track_status(conn, env)
            elif env.event_type in _NUDGE_EVENTS:
                await store.nudge_status(conn, env.payload["command_id"], "sent", None,
                                         parse_time(env.payload.get("sent_at")) or env.occurred_at)
            elif env.event_type == "ArchiveUndoRequested":
                await windows.undo(conn, env, self.clock())
        await store.add_application_events(conn, app_rows)
        await self._refresh(conn)
        if everyone:
            for app_id in await conn.fetch("SELECT application_id FROM evaluator_pending"):
                dirty.setdefault(app_id["application_id"], batch[-1].envelope)
        for app_id, cause in dirty.items():
            await self.evaluate(conn, app_id, cause, self.clock())

    async def _track_status(self, conn: asyncpg.Connection, env: Envelope) -> None:
        p = env.payload
        if env.event_type in _STATUS_OF:
            if p.get("command_type") in _NUDGE_COMMANDS:
                if env.event_type != "CommandSucceeded":
                    await store.nudge_status(conn, p["command_id"], _STATUS_OF[env.event_type], p.get("reason"), None)
                return
            await store.decision_status(conn, p["command_id"], _STATUS_OF[env.event_type], p.get("reason"))
        elif env.event_type == "SlackMessagePosted":
            await store.decision_status(conn, p["command_id"], "awaiting_recruiter", None)
        elif env.event_type == "RecruiterDecided":
            await store.decision_status(conn, p["proposal_command_id"], f"recruiter_chose_{p['choice']}",
                                        p.get("slack_user_id"))

    async def evaluate(self, conn: asyncpg.Connection, application_id: str, cause: Envelope | None,
                       now: datetime) -> object:
        """Fold the application's facts (plus decisions already taken), decide, and record the result."""
        await store.lock_application(conn, application_id)
        state = AppState(application_id)
        for env in await store.application_events(conn, application_id):
            state = evolve(state, env)
        for env in await _own_decisions(conn, application_id):
            state = evolve(state, env)
        evaluation = decide(state, self.catalog, self._rules, now)
        await windows.cancel_if_gone(conn, state, cause, now)
        if state.merged is not None:  # nothing is pending for an application that no longer exists
            await store.clear_pending(conn, application_id)
            return evaluation
        if isinstance(evaluation, Decision):
            if self.force_dry_run:
                evaluation = replace(evaluation, dry_run=True)
            await self._record(conn, state, evaluation, cause, now)
            await store.clear_pending(conn, application_id)
            rule = self._rule_ids.get(evaluation.rule_id)
            if evaluation.outcome == "timeout" and rule is not None and self._rules is not None \
                    and self._rules.feedback_due_for(rule) is not None:
                return await self.evaluate(conn, application_id, cause, now)  # still waiting: nudges go on
        else:
            if isinstance(evaluation, NotApplicable) and evaluation.rule_id is not None:
                await self._alert_rule_cannot_act(conn, evaluation, application_id, cause, now)
            summary = evaluation_summary(evaluation)
            until = evaluation.until if isinstance(evaluation, Wait) else None
            waiting = summary.get("waiting_for") or [{"kind": summary["kind"], "detail": summary.get("reason")}]
            nudging = None
            if isinstance(evaluation, Wait) and evaluation.rule_id in self._rule_ids and self._rules is not None:
                rule = self._rule_ids[evaluation.rule_id]
                nudging = await nudge(conn, self._rules, rule, state, evaluation, self.calendar, now, cause,
                                      takes_effect=rule.mode == "live" and not self._rules.dry_run
                                      and not self.force_dry_run)
                if nudging is not None and nudging.next_at is not None and (until is None or nudging.next_at < until):
                    until = nudging.next_at
            pos = state.position()
            await store.set_pending(conn, application_id, summary.get("stage_id"), summary.get("rule_id"),
                                    waiting, until, now, job_id=pos.job_id if pos else None,
                                    plan_id=pos.plan_id if pos else None,
                                    feedback_due_at=nudging.feedback_due_at if nudging else None,
                                    late=nudging.late if nudging else None)
        return evaluation

    async def _record(self, conn: asyncpg.Connection, state: AppState, decision: Decision,
                      cause: Envelope | None, now: datetime) -> None:
        app = state.application_id
        payload = decision_made(decision, app, decided_at=now)
        job_id = state.snapshot.job_id if state.snapshot else None
        command = command_for(decision, app, job_id=job_id)
        inserted = await store.record_decision(conn, {
            **payload, "command_type": command.command_type if command else None,
            "status": "pending" if command else ("shadow" if decision.mode == "shadow" else "dry_run"),
            "decided_at": now})
        if not inserted:
            return
        correlation = cause.correlation_id if cause else None
        causation = cause.event_id if cause else None
        event = Envelope(event_id=payload["decision_id"], event_type="DecisionMade", key=app, occurred_at=now,
                         recorded_at=now, correlation_id=correlation, causation_id=causation, source="evaluator",
                         payload=payload)
        await store.enqueue(conn, subjects.event_subject("evaluator", "DecisionMade", app), event)
        if command is not None:
            spec = COMMAND_SPECS[command.command_type]
            env = Envelope(event_id=command.command_id, event_type=command.command_type, key=app, occurred_at=now,
                           recorded_at=now, correlation_id=correlation, causation_id=payload["decision_id"],
                           source="evaluator", payload=command.payload)
            subject = subjects.command_subject(spec.target, spec.verb, app)
            if command.command_type == "ArchiveApplication" and self.archive_delay_s > 0:
                await windows.schedule(conn, subject, env, payload, job_id, self.archive_delay_s, now)
            else:
                await store.enqueue(conn, subject, env)
        log.info("decision_recorded", key=app, outcome=decision.outcome, rule_id=decision.rule_id,
                 rule_set_version=decision.rule_set_version, mode=decision.mode, dry_run=decision.dry_run,
                 command_id=command.command_id if command else None)

    async def _alert_rule_cannot_act(self, conn: asyncpg.Connection, evaluation: NotApplicable,
                                     application_id: str, cause: Envelope | None, now: datetime) -> None:
        """A rule on a plan's last stage without a target can never act: one admin alert per rule-set
        version and rule (the outbox and the notifier drop repeats by id), at the first case."""
        version = self._rules.version if self._rules is not None else None
        command_id = derive_id("alert", "rule_cannot_act", version, evaluation.rule_id, evaluation.stage_id)
        text = (f"Rule {evaluation.rule_id} (rule set v{version}) matches stage {evaluation.stage_id}, the last "
                f"stage of its interview plan, and has no on_pass.target_stage_id: it can never advance anyone. "
                f"First seen for application {application_id}. Set a target stage or remove the rule.")
        payload = SendAlert(command_id=command_id, kind="rule_cannot_act", text=text, application_id=application_id)
        env = Envelope(event_id=command_id, event_type="SendAlert", key=application_id, occurred_at=now,
                       recorded_at=now, correlation_id=cause.correlation_id if cause else None,
                       causation_id=cause.event_id if cause else None, source="evaluator",
                       payload=payload.model_dump())
        await store.enqueue(conn, subjects.command_subject("slack", "alert", application_id), env)

    async def fire_timers(self, pool: asyncpg.Pool) -> int:
        """Re-evaluate applications whose quiet period or timeout has passed, and hand archives whose
        undo window ended to the executor (durable timers)."""
        now = self.clock()
        await windows.release_due(pool, now)
        async with pool.acquire() as conn:
            due = await store.due_timers(conn, now)
        for app_id in due:
            async with pool.acquire() as conn, conn.transaction():
                await self._refresh(conn)
                fire_at = await conn.fetchval("SELECT fire_at FROM evaluator_pending WHERE application_id = $1 "
                                              "FOR UPDATE", app_id)
                if fire_at is None or fire_at > now:
                    continue
                await conn.execute("UPDATE evaluator_pending SET fire_at = NULL WHERE application_id = $1", app_id)
                await self.evaluate(conn, app_id, None, self.clock())
        return len(due)


async def _own_decisions(conn: asyncpg.Connection, application_id: str) -> list[Envelope]:
    """Decisions this evaluator recorded, as DecisionMade facts, so a stage is never decided twice
    even before the published event comes back through the log."""
    rows = await conn.fetch(
        """SELECT decision_id, stage_id, rule_set_version, rule_id, outcome, mode, dry_run, command_id,
                  explanation, decided_at, target_stage_id, archive_reason_id FROM evaluator_decisions WHERE application_id = $1""", application_id)
    out = []
    for r in rows:
        payload = {"decision_id": r["decision_id"], "application_id": application_id, "stage_id": r["stage_id"],
                   "rule_set_version": r["rule_set_version"], "rule_id": r["rule_id"], "outcome": r["outcome"],
                   "mode": r["mode"], "dry_run": r["dry_run"], "command_id": r["command_id"],
                   "explanation": r["explanation"], "decided_at": r["decided_at"].isoformat(),
                   "target_stage_id": r["target_stage_id"], "archive_reason_id": r["archive_reason_id"]}
        out.append(Envelope(event_id=r["decision_id"], event_type="DecisionMade", key=application_id,
                            occurred_at=r["decided_at"], recorded_at=r["decided_at"], source="evaluator",
                            payload=payload))
    return out

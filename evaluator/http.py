"""Operator API of the evaluator: rule sets (validate, activate, list), decisions, pending
evaluations, and forcing an evaluation now."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

import asyncpg
import orjson
from litestar import Request, Response, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Parameter
from litestar.types import Guard
from pydantic import BaseModel, ConfigDict

from contracts.envelope import Envelope
from contracts.errors import ErrorBody, TransientError, error_body
from contracts.events import EvaluationRequested, RuleSetActivated
from contracts.ids import derive_id
from evaluator import api_models
from evaluator.api_models import DecisionView, PendingView
from evaluator.queries import (
    DecisionFilter,
    decisions_page,
    nudges_for,
    overdue_page,
    pending_page,
    rule_set_versions,
)
from evaluator.rule_warnings import warnings_for
from evaluator.rules import Problem, RuleSetInvalid, parse_document, validate_document
from evaluator.rules_text import MAX_BYTES
from evaluator.store import knows_application


class EventSink(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


_PRINTABLE = r"^[^\x00\ud800-\udfff]*$"
"""Text PostgreSQL can compare: no NUL, no lone surrogate."""
Id = Annotated[str, Parameter(min_length=1, max_length=256, pattern=_PRINTABLE)]
MaybeId = Annotated[str | None, Parameter(min_length=1, max_length=256, pattern=_PRINTABLE)]
MAX_PROBLEMS = 20
"""An error body lists this many problems at most (and how many there were): never the input."""


def _format(body: bytes, content_type: str) -> Literal["json", "yaml"]:
    return "json" if "json" in content_type or body.lstrip()[:1] in (b"{", b"[") else "yaml"


def _checked(body: bytes, content_type: str) -> tuple[Any, list[Problem]]:
    """(document, problems): parsing within `evaluator.rules_text`'s limits, then validation. CPU-bound
    on hostile text, so the routes run it in a worker thread, off the event loop."""
    try:
        doc = parse_document(body, fmt=_format(body, content_type))
    except RuleSetInvalid as exc:
        return None, exc.problems
    return doc, validate_document(doc)


def _invalid(problems: list[Problem]) -> Response:
    shown = [{"location": p.location[:200], "message": p.message[:300]} for p in problems[:MAX_PROBLEMS]]
    return Response(error_body(400, f"invalid rule set: {len(problems)} problem(s)",
                               {"problems": shown, "problems_total": len(problems)}), status_code=400)


class _RuleSetOperation(Operation):
    """The body is the rule-set document itself, YAML or JSON (docs/rules.md)."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING, description="a rule set (docs/rules.md), at most 1 MiB")
        self.request_body = RequestBody(required=True, content={
            "application/yaml": OpenAPIMediaType(schema=text),
            "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT))})


def _errors(**described: str) -> dict[int, ResponseSpec]:
    return {int(code[1:]): ResponseSpec(data_container=ErrorBody, description=text) for code, text in described.items()}


async def activate_document(pool: asyncpg.Pool, sink: EventSink, doc: dict[str, Any], *,
                            activated_by: str) -> tuple[int, str, str]:
    """Give a valid document its new immutable version and publish its activation (the evaluator makes
    it live when it sees the event): (version, event id, digest); TransientError when not stored."""
    digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
    async with pool.acquire() as conn:
        version = await conn.fetchval("INSERT INTO ruleset_versions (digest) VALUES ($1) RETURNING version", digest)
    now = datetime.now(UTC)
    payload = RuleSetActivated(version=version, document=doc, activated_by=activated_by)
    env = Envelope(event_id=derive_id("ruleset", version), event_type="RuleSetActivated", key="ruleset",
                   occurred_at=now, recorded_at=now, source="operator", payload=payload.model_dump())
    await sink.publish_event(env)
    return version, env.event_id, digest


async def request_evaluation(sink: EventSink, application_id: str, *, requested_by: str) -> str:
    """Publish `EvaluationRequested` (the evaluator evaluates when it sees it); its event id."""
    now = datetime.now(UTC)
    env = Envelope(event_id=derive_id("evaluate", application_id, now.isoformat()),
                   event_type="EvaluationRequested", key=application_id, occurred_at=now, recorded_at=now,
                   source="operator",
                   payload=EvaluationRequested(application_id=application_id, requested_by=requested_by).model_dump())
    await sink.publish_event(env)
    return env.event_id


class OverdueInterviewer(BaseModel):
    """One interviewer's feedback past its due time (ids only: no names or emails in the API)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    interviewer_id: str
    interview_event_id: str
    interview_id: str | None
    due_at: datetime
    late_by_s: float
    escalate_at: datetime | None
    nudge: Literal["issued", "sent", "skipped", "failed"] | None
    """The nudge for this due time: issued, then sent / skipped (not in Slack) / failed; None: none yet."""
    escalation: Literal["issued", "sent", "skipped", "failed"] | None


class OverdueApplication(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    application_id: str
    candidate_id: str | None
    job_id: str | None
    stage_id: str | None
    rule_id: str | None
    feedback_due_at: datetime
    late_by_s: float
    """How late its earliest missing feedback is."""
    interviewers: list[OverdueInterviewer]


class OverdueList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    as_of: datetime
    applications: list[OverdueApplication]
    """Latest first: by how long the earliest missing feedback has been due."""


def overdue_list(rows: list[dict[str, Any]], nudges: dict[str, list[dict[str, Any]]], now: datetime) -> OverdueList:
    """`nudges`: `nudges_for` those applications; a late interviewer's `nudge` / `escalation` is the
    status of the one issued for this due time (`sent` only once Slack accepted it), None if none yet."""
    apps = []
    for r in rows:
        status = {(n["kind"], n["interview_event_id"], n["interviewer_id"], datetime.fromisoformat(n["due_at"])):
                  n["status"] for n in nudges.get(r["application_id"], [])}
        late = []
        for i in r["late"] or []:
            due = datetime.fromisoformat(i["due_at"])
            if due > now:
                continue
            key = (i["interview_event_id"], i["interviewer_id"], due)
            late.append(OverdueInterviewer(
                interviewer_id=i["interviewer_id"], interview_event_id=i["interview_event_id"],
                interview_id=i.get("interview_id"), due_at=due, late_by_s=(now - due).total_seconds(),
                escalate_at=i.get("escalate_at"), nudge=status.get(("nudge", *key)),
                escalation=status.get(("escalation", *key))))
        late.sort(key=lambda i: (-i.late_by_s, i.interviewer_id))
        apps.append(OverdueApplication(application_id=r["application_id"], candidate_id=r["candidate_id"],
                                       job_id=r["job_id"], stage_id=r["stage_id"], rule_id=r["rule_id"],
                                       feedback_due_at=r["feedback_due_at"],
                                       late_by_s=(now - r["feedback_due_at"]).total_seconds(), interviewers=late))
    return OverdueList(as_of=now, applications=apps)


def evaluator_router(pool: asyncpg.Pool, sink: EventSink, guards: list[Guard],
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Router:

    @post("/rulesets/validate", summary="Validate a rule set (YAML or JSON) without activating it; `warnings` "
          "name rules the synced interview plans show can never act", status_code=200,
          responses=_errors(s400="not a valid rule set: the first problems, each with its location",
                            s401="the admin bearer token is missing or wrong", s413="larger than 1 MiB"),
          request_max_body_size=MAX_BYTES, operation_class=_RuleSetOperation)
    async def validate_ruleset(request: Request) -> Response:
        doc, problems = await asyncio.to_thread(_checked, await request.body(), request.headers.get("content-type", ""))
        if problems:
            return _invalid(problems)
        return Response({"valid": True, "problems": [], "warnings": await warnings_for(pool, doc)}, status_code=200)

    @post("/rulesets", summary="Validate and activate a rule set; activation is an event, versions immutable",
          responses=_errors(s400="not a valid rule set: the first problems, each with its location",
                            s401="the admin bearer token is missing or wrong", s413="larger than 1 MiB",
                            s503="event store unavailable, retry later"),
          request_max_body_size=MAX_BYTES, operation_class=_RuleSetOperation)
    async def activate_ruleset(request: Request) -> Response:
        doc, problems = await asyncio.to_thread(_checked, await request.body(), request.headers.get("content-type", ""))
        if problems:
            return _invalid(problems)
        warnings = await warnings_for(pool, doc)
        try:
            version, event_id, digest = await activate_document(pool, sink, doc, activated_by="admin-api")
        except TransientError:
            return Response(error_body(503, "event store unavailable, retry later"), status_code=503)
        return Response({"version": version, "event_id": event_id, "digest": digest, "warnings": warnings},
                        status_code=201)

    @get("/rulesets", summary="Activated rule-set versions, newest first (the first is live)",
         responses=_errors(s401="the admin bearer token is missing or wrong"))
    async def list_rulesets() -> dict[str, Any]:
        async with pool.acquire() as conn:
            items = await rule_set_versions(conn)
        return {"active_version": items[0]["version"] if items else None, "rulesets": items}

    @post("/applications/{application_id:str}/evaluate", summary="Evaluate an application now", status_code=202,
          responses=_errors(s401="the admin bearer token is missing or wrong",
                            s404="no event about this application has reached the evaluator; nothing is written",
                            s503="event store unavailable, retry later"))
    async def evaluate_now(application_id: Id) -> Response:
        async with pool.acquire() as conn:
            known = await knows_application(conn, application_id)
        if not known:
            raise NotFoundException(f"no events about application {application_id} have reached the evaluator")
        try:
            event_id = await request_evaluation(sink, application_id, requested_by="admin-api")
        except TransientError:
            return Response(error_body(503, "event store unavailable, retry later"), status_code=503)
        return Response({"status": "requested", "event_id": event_id}, status_code=202)

    @get("/decisions", summary="Decisions with explanations and status",
         responses=_errors(s401="the admin bearer token is missing or wrong"))
    async def list_decisions(application_id: MaybeId = None,
                             limit: Annotated[int, Parameter(ge=1, le=2000)] = 200) -> list[DecisionView]:
        async with pool.acquire() as conn:
            rows, _ = await decisions_page(conn, DecisionFilter(application_id=application_id), limit=limit)
        return api_models.decisions(rows)

    @get("/overdue", summary="Applications blocked by feedback past its due time, latest first",
         responses=_errors(s401="the bearer token is missing or wrong"))
    async def list_overdue() -> OverdueList:
        now = clock()
        async with pool.acquire() as conn:
            rows = await overdue_page(conn, now)
            nudges = await nudges_for(conn, [r["application_id"] for r in rows])
        return overdue_list(rows, nudges, now)

    @get("/pending", summary="Evaluations waiting: for what, until when, and the feedback nudges sent",
         responses=_errors(s401="the admin bearer token is missing or wrong"))
    async def list_pending(application_id: MaybeId = None) -> list[PendingView]:
        async with pool.acquire() as conn:
            return api_models.pending(await pending_page(conn, application_id=application_id))

    return Router(path="/api", route_handlers=[validate_ruleset, activate_ruleset, list_rulesets, evaluate_now,
                                               list_decisions, list_pending, list_overdue], guards=guards,
                  tags=["evaluator"])

"""Operator API of the evaluator: rule sets (validate, activate, list), decisions, pending
evaluations, and forcing an evaluation now."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import asyncpg
import orjson
from litestar import Request, Response, Router, get, post
from litestar.types import Guard

from contracts.envelope import Envelope
from contracts.errors import TransientError
from contracts.events import EvaluationRequested, RuleSetActivated
from contracts.ids import derive_id
from evaluator.rules import parse_document, validate_document


class EventSink(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


def _document(body: bytes, content_type: str) -> Any:
    fmt: Literal["yaml", "json"] = "json" if "json" in content_type or body.lstrip()[:1] in (b"{", b"[") else "yaml"
    return parse_document(body.decode("utf-8", errors="replace"), fmt=fmt)


def _rows(rows: list) -> list[dict[str, Any]]:
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(r).items()} for r in rows]


def evaluator_router(pool: asyncpg.Pool, sink: EventSink, guards: list[Guard]) -> Router:
    @post("/rulesets/validate", summary="Validate a rule set (YAML or JSON) without activating it")
    async def validate_ruleset(request: Request) -> Response:
        try:
            doc = _document(await request.body(), request.headers.get("content-type", ""))
        except ValueError as exc:
            return Response({"valid": False, "problems": [{"location": "body", "message": str(exc)}]}, status_code=400)
        problems = validate_document(doc)
        return Response({"valid": not problems, "problems": [{"location": p.location, "message": p.message} for p in problems]},
                        status_code=200 if not problems else 400)

    @post("/rulesets", summary="Validate and activate a rule set; activation is an event, versions immutable")
    async def activate_ruleset(request: Request) -> Response:
        body = await request.body()
        try:
            doc = _document(body, request.headers.get("content-type", ""))
        except ValueError as exc:
            return Response({"error": "invalid rule set", "problems": [{"location": "body", "message": str(exc)}]},
                            status_code=400)
        problems = validate_document(doc)
        if problems:
            return Response({"error": "invalid rule set", "problems": [{"location": p.location, "message": p.message} for p in problems]},
                            status_code=400)
        digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
        async with pool.acquire() as conn:
            version = await conn.fetchval("INSERT INTO ruleset_versions (digest) VALUES ($1) RETURNING version", digest)
        now = datetime.now(UTC)
        payload = RuleSetActivated(version=version, document=doc, activated_by="admin-api")
        env = Envelope(event_id=derive_id("ruleset", version), event_type="RuleSetActivated", key="ruleset",
                       occurred_at=now, recorded_at=now, source="operator", payload=payload.model_dump())
        try:
            await sink.publish_event(env)
        except TransientError:
            return Response({"error": "event store unavailable, retry later"}, status_code=503)
        return Response({"version": version, "event_id": env.event_id, "digest": digest}, status_code=201)

    @get("/rulesets", summary="Activated rule-set versions, newest first (the first is live)")
    async def list_rulesets() -> dict[str, Any]:
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT version, document, activated_at FROM evaluator_rulesets "
                                    "ORDER BY stream_seq DESC")
        items = _rows(rows)
        return {"active_version": items[0]["version"] if items else None, "rulesets": items}

    @post("/applications/{application_id:str}/evaluate", summary="Evaluate an application now", status_code=202)
    async def evaluate_now(application_id: str) -> Response:
        now = datetime.now(UTC)
        env = Envelope(event_id=derive_id("evaluate", application_id, now.isoformat()),
                       event_type="EvaluationRequested", key=application_id, occurred_at=now, recorded_at=now,
                       source="operator",
                       payload=EvaluationRequested(application_id=application_id, requested_by="admin-api").model_dump())
        try:
            await sink.publish_event(env)
        except TransientError:
            return Response({"error": "event store unavailable, retry later"}, status_code=503)
        return Response({"status": "requested", "event_id": env.event_id}, status_code=202)

    @get("/decisions", summary="Decisions with explanations and status")
    async def list_decisions(application_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT * FROM evaluator_decisions WHERE $1::text IS NULL OR application_id = $1
                   ORDER BY decided_at DESC LIMIT $2""", application_id, max(1, min(limit, 2000)))
        return _rows(rows)

    @get("/pending", summary="Evaluations waiting: for what, and until when")
    async def list_pending(application_id: str | None = None) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT * FROM evaluator_pending WHERE $1::text IS NULL OR application_id = $1
                   ORDER BY fire_at NULLS LAST, application_id LIMIT 1000""", application_id)
        return _rows(rows)

    return Router(path="/api", route_handlers=[validate_ruleset, activate_ruleset, list_rulesets, evaluate_now,
                                               list_decisions, list_pending], guards=guards, tags=["evaluator"])

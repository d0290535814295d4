"""Query API over the projectors' read models (admin-authenticated by the runtime's guard)."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.types import Guard

from projectors.queries import (
    METADATA_KINDS,
    application_view,
    events_for_key,
    form_fields,
    metadata_list,
    plan_stages,
)


def query_router(pool: asyncpg.Pool, guards: list[Guard]) -> Router:
    @get("/applications/{application_id:str}", summary="What we know about an application")
    async def get_application(application_id: str) -> dict[str, Any]:
        async with pool.acquire() as conn:
            view = await application_view(conn, application_id)
        if view is None:
            raise NotFoundException(f"no events about application {application_id}")
        return view

    @get("/events", summary="The audit trail: an entity's events in log order")
    async def list_events(key: str, after_seq: int = 0, limit: int = 500) -> dict[str, Any]:
        limit = max(1, min(limit, 5000))
        async with pool.acquire() as conn:
            events = await events_for_key(conn, key, after_seq=after_seq, limit=limit)
        return {"key": key, "events": events, "next_after_seq": events[-1]["stream_seq"] if events else after_seq}

    @get("/metadata/stages", summary="Interview stages in plan order (for a rule builder)")
    async def list_stages(interview_plan_id: str | None = None) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await plan_stages(conn, interview_plan_id)

    @get("/metadata/form-fields", summary="Feedback form fields with their paths and types")
    async def list_form_fields(form_definition_id: str | None = None) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await form_fields(conn, form_definition_id)

    @get("/metadata/{kind:str}", summary="jobs, interview-plans, feedback-forms, interviews, users, archive-reasons")
    async def list_metadata(kind: str) -> list[dict[str, Any]]:
        if kind not in METADATA_KINDS:
            raise NotFoundException(f"unknown metadata kind {kind!r}; one of {sorted(METADATA_KINDS)}")
        async with pool.acquire() as conn:
            return await metadata_list(conn, METADATA_KINDS[kind])

    return Router(path="/api", route_handlers=[get_application, list_events, list_stages, list_form_fields,
                                               list_metadata], guards=guards, tags=["queries"])

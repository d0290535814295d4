"""Query API over the projectors' read models (admin-authenticated by the runtime's guard)."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.types import Guard

from contracts.errors import ErrorBody
from projectors import api_models
from projectors.api_models import ApplicationView, EventPage
from projectors.queries import (
    METADATA_KINDS,
    application_view,
    events_for_key,
    form_fields,
    merged_from,
    merged_into,
    metadata_list,
    plan_stages,
)

_PRINTABLE = r"^[^\x00\ud800-\udfff]*$"
"""Text PostgreSQL can compare: no NUL, no lone surrogate (a NUL in a parameter was a 500)."""
Id = Annotated[str, Parameter(min_length=1, max_length=256, pattern=_PRINTABLE)]
MaybeId = Annotated[str | None, Parameter(min_length=1, max_length=256, pattern=_PRINTABLE)]
Seq = Annotated[int, Parameter(ge=0, le=2**63 - 1, description="a stream sequence (64-bit)")]
Limit = Annotated[int, Parameter(ge=1, le=5000)]


def _responses(*codes: int) -> dict[int, ResponseSpec]:
    text = {401: "the admin bearer token is missing or wrong", 404: "nothing is known by that id"}
    return {code: ResponseSpec(data_container=ErrorBody, description=text[code]) for code in codes}


def query_router(pool: asyncpg.Pool, guards: list[Guard]) -> Router:
    @get("/applications/{application_id:str}", summary="What we know about an application",
         responses=_responses(401, 404))
    async def get_application(application_id: Id) -> ApplicationView:
        async with pool.acquire() as conn:
            view = await application_view(conn, application_id)
        if view is None:
            raise NotFoundException(f"no events about application {application_id}")
        return api_models.application(view)

    @get("/events", summary="The audit trail: an entity's events in log order", responses=_responses(401))
    async def list_events(key: Id, after_seq: Seq = 0, limit: Limit = 500) -> EventPage:
        async with pool.acquire() as conn:
            events = await events_for_key(conn, key, after_seq=after_seq, limit=limit)
            merged_away, merged_in = await merged_from(conn, key), await merged_into(conn, key)
        return api_models.event_page(key, events, after_seq, merged_from=merged_away, merged_into=merged_in)

    @get("/metadata/stages", summary="Interview stages in plan order (for a rule builder)", responses=_responses(401))
    async def list_stages(interview_plan_id: MaybeId = None) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await plan_stages(conn, interview_plan_id)

    @get("/metadata/form-fields", summary="Feedback form fields with their paths and types", responses=_responses(401))
    async def list_form_fields(form_definition_id: MaybeId = None) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await form_fields(conn, form_definition_id)

    @get("/metadata/{kind:str}", summary="jobs, interview-plans, feedback-forms, interviews, users, archive-reasons",
         responses=_responses(401, 404))
    async def list_metadata(kind: Id) -> list[dict[str, Any]]:
        if kind not in METADATA_KINDS:
            raise NotFoundException(f"unknown metadata kind {kind[:40]!r}; one of {sorted(METADATA_KINDS)}")
        async with pool.acquire() as conn:
            return await metadata_list(conn, METADATA_KINDS[kind])

    return Router(path="/api", route_handlers=[get_application, list_events, list_stages, list_form_fields,
                                               list_metadata], guards=guards, tags=["queries"])

"""Query API over the projectors' read models (admin-authenticated by the runtime's guard)."""

from __future__ import annotations

from typing import Any

import asyncpg
from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.types import Guard

from projectors.queries import application_view, events_for_key


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

    return Router(path="/api", route_handlers=[get_application, list_events], guards=guards, tags=["queries"])

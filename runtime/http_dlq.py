"""Operator API over the dead-letter queue (what `autoadvance dlq list|show|retry` calls)."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get, post
from litestar.params import Parameter
from litestar.types import Guard

from runtime import dead_letters
from runtime.app import Services


def dlq_router(services: Services, guards: list[Guard]) -> Router:
    def js() -> Any:
        return services.nc.jetstream()

    @get("/dlq", summary="Dead letters (open ones unless all=true), oldest first")
    async def list_dead_letters(all: bool = False,  # noqa: A002 - the query parameter's name
                                limit: int = Parameter(default=100, ge=1, le=1000)) -> dict[str, Any]:
        items = await dead_letters.entries(js(), services.pool, include_retried=all, limit=limit)
        return {"open": await dead_letters.open_count(js(), services.pool),
                "dead_letters": [e.summary() for e in items]}

    @get("/dlq/{dlq_seq:int}", summary="One dead letter: headers, reason and body")
    async def show_dead_letter(dlq_seq: int) -> Response:
        entry = await dead_letters.get(js(), services.pool, dlq_seq)
        if entry is None:
            return Response({"error": f"DLQ #{dlq_seq} does not exist"}, status_code=404)
        return Response(entry.detail())

    @post("/dlq/{dlq_seq:int}/retry", summary="Re-send a dead letter to its original subject, once", status_code=202)
    async def retry_dead_letter(dlq_seq: int) -> Response:
        try:
            seq = await dead_letters.retry(js(), services.pool, dlq_seq)
        except dead_letters.RetryRefused as exc:
            status = 404 if "does not exist" in str(exc) else 409
            return Response({"error": str(exc)}, status_code=status)
        return Response({"dlq_seq": dlq_seq, "republished_seq": seq}, status_code=202)

    return Router(path="/api", route_handlers=[list_dead_letters, show_dead_letter, retry_dead_letter],
                  guards=guards, tags=["operations"])

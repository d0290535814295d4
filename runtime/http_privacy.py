"""Operator API for erasure (what `autoadvance erase` calls) and a candidate's name as people see it."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get, post
from litestar.params import Parameter
from litestar.types import Guard

from contracts.errors import TransientError, error_body
from runtime.app import Services
from runtime.erasure import erase_candidate

_ID = Parameter(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$", description="Ashby candidate id")


def privacy_router(services: Services, guards: list[Guard]) -> Router:
    vault = services.publisher.vault

    @get("/candidates/{candidate_id:str}", summary="A candidate's name as people see it, and any erasure")
    async def show_candidate(candidate_id: str = _ID) -> dict[str, Any]:
        """`name` is "(erased)" after erasure and null when no name of theirs ever passed through here."""
        return {"candidate_id": candidate_id, "name": await vault.name(candidate_id),
                "privacy": await vault.status(candidate_id)}

    @post("/candidates/{candidate_id:str}/erase", status_code=200,
          summary="Erase a candidate's personal data everywhere (destroys their key; records CandidateErased)")
    async def erase(candidate_id: str = _ID,
                    by: str = Parameter(default="admin", min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
                    ) -> Response:
        try:
            done = await erase_candidate(services, candidate_id, by=by)
        except TransientError as exc:
            return Response(error_body(503, str(exc)), status_code=503)
        return Response({"candidate_id": done.candidate_id, "erased_at": done.erased_at.isoformat(),
                         "newly_erased": done.newly, "event_id": done.event_id, "stream_seq": done.stream_seq})

    return Router(path="/api", route_handlers=[show_candidate, erase], guards=guards, tags=["privacy"])

"""Operator API of the pause switch (what `autoadvance pause|resume` and the console call)."""

from __future__ import annotations

from typing import Any

import orjson
from litestar import Request, Response, Router, get, post
from litestar.types import Guard

from contracts.errors import TransientError, error_body
from runtime.app import Services
from runtime.pause import MAX_TEXT, PauseState, clean_text

_SEMANTICS = ("While paused, no Ashby write and no Slack message is sent; decisions are still made and "
              "their commands wait in their consumers, then run once each after resume. A call already "
              "on its way to Ashby or Slack when the pause was stored completes and is recorded as usual.")


def state_body(state: PauseState, changed: bool | None = None) -> dict[str, Any]:
    body = {**state.as_dict(), "meaning": _SEMANTICS}
    if changed is not None:
        body["changed"] = changed
    return body


async def _text(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """The optional JSON body `{"reason": "...", "by": "..."}`; (fields, None) or (None, why it is refused)."""
    raw = await request.body()
    if not raw.strip():
        return {}, None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, "the body must be a JSON object like {\"reason\": \"...\", \"by\": \"...\"}"
    if not isinstance(doc, dict):
        return None, "the body must be a JSON object"
    for name in ("reason", "by"):
        value = doc.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            return None, f"'{name}' must be a string of at most {MAX_TEXT} characters"
    return doc, None


def pause_router(services: Services, guards: list[Guard]) -> Router:
    switch = services.pause()

    @get("/pause", summary="Whether effects are paused, since when, by whom and why")
    async def pause_state() -> Response:
        try:
            state = await switch.read(fresh=True)
        except TransientError as exc:
            return Response(error_body(503, f"the pause switch cannot be read: {exc}"), status_code=503)
        return Response(state_body(state))

    async def flip(request: Request, paused: bool) -> Response:
        doc, refused = await _text(request)
        if doc is None:
            return Response(error_body(400, refused or "bad body"), status_code=400)
        by = clean_text(doc.get("by"), "api")
        reason = clean_text(doc.get("reason"), "")
        try:
            state, changed = await switch.set(paused, by=by, reason=reason)
        except TransientError as exc:
            return Response(error_body(503, f"nothing was recorded: {exc}"), status_code=503)
        return Response(state_body(state, changed), status_code=200)

    @post("/pause", summary="Pause every effect (no Ashby write, no Slack message); decisions are still made",
          status_code=200)
    async def pause(request: Request) -> Response:
        return await flip(request, True)

    @post("/resume", summary="Resume effects: the commands that waited run, once each", status_code=200)
    async def resume(request: Request) -> Response:
        return await flip(request, False)

    return Router(path="/api", route_handlers=[pause_state, pause, resume], guards=guards, tags=["operations"])

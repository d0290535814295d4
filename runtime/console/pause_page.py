"""The console's pause switch: pause and resume every effect (admin, CSRF-checked), and the pause
state each page's banner shows, read before every console request (cached briefly by the switch)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.response import Redirect

from contracts.errors import TransientError
from runtime.console.auth import Access
from runtime.console.web import Pages, acting_admin
from runtime.pause import PauseSwitch, clean_text


def state_hook(pause: PauseSwitch | None):
    """A `before_request` hook putting the switch's state (or why it is unknown) in the request's state."""
    async def read_state(request: Request) -> None:
        if pause is None:
            return
        state: dict[str, Any]
        try:
            state = (await pause.read()).as_dict()
        except TransientError as exc:
            state = {"paused": None, "error": str(exc)[:200]}
        request.scope.setdefault("state", {})["pause"] = state

    return read_state


def _back(form: Any) -> str:
    target = str(form.get("next") or "/ui/")
    return target if target.startswith("/ui/") and not target.startswith("//") else "/ui/"


def handlers(pause: PauseSwitch | None, pages: Pages, access: Access, signed_in: Any) -> list[Any]:
    if pause is None:
        return []

    async def flip(request: Request, paused: bool) -> Response:
        await acting_admin(request, access)
        form = await request.form()
        reason = clean_text(form.get("reason"), "")
        try:
            await pause.set(paused, by="console (admin)", reason=reason)
        except TransientError:
            verb = "paused" if paused else "resumed"
            return pages.render(request, "refused.html", status_code=503, title="Not recorded",
                                reason=f"The event store is unavailable; nothing was {verb}. Try again shortly.")
        if request.headers.get("hx-request"):  # htmx: load the page again, now with (or without) the banner
            return Response("", status_code=200, headers={"HX-Redirect": _back(form)})
        return Redirect(_back(form), status_code=303)

    @post("/pause", summary="Pause every effect (admin)", guards=[signed_in], status_code=303)
    async def pause_effects(request: Request) -> Response:
        return await flip(request, True)

    @post("/resume", summary="Resume effects (admin)", guards=[signed_in], status_code=303)
    async def resume_effects(request: Request) -> Response:
        return await flip(request, False)

    return [pause_effects, resume_effects]

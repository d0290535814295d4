"""What every console page shares: template rendering with who is asking, the signed-in guard,
and the admin-with-CSRF check of state-changing actions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from markupsafe import Markup, escape

from runtime.console.auth import CSRF_FIELD, CSRF_HEADER, Access, Principal

HERE = Path(__file__).parent


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = lambda v: (v or "")[:19].replace("T", " ")
    env.globals["quote"] = quote
    env.globals["stage"] = stage_label
    return env


def stage_label(stage_id: Any, titles: Any = None) -> Markup:
    """A stage as the console shows it: its title in Ashby with the id on hover, or the id alone
    when the interview-plan read model does not know it."""
    if not stage_id:
        return Markup("—")
    title = titles.get(stage_id) if isinstance(titles, dict) else None
    if not title:
        return escape(str(stage_id))
    return Markup(f'<span class="stage" title="{escape(str(stage_id))}">{escape(title)}</span>')


class Pages:
    """Renders templates with who is asking (role, CSRF token) in every page's context."""

    def __init__(self, access: Access) -> None:
        self.access = access
        self.env = _environment()

    def render(self, request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        who: Principal | None = request.scope.get("state", {}).get("principal")
        html = self.env.get_template(template).render(
            who=who, csrf=self.access.csrf_token(who.session) if who and who.session else "",
            csrf_field=CSRF_FIELD, path=request.url.path, **context)
        headers = {"Cache-Control": "no-store"}
        if request.headers.get("hx-request") and 400 <= status_code < 600 and status_code != 401:
            # htmx swaps only 2xx (and a browser logs every other status as a console error): a fragment
            # that reports a refusal or a problem goes back as 200, its real status in X-Console-Status
            headers["X-Console-Status"] = str(status_code)
            status_code = 200
        return Response(html, status_code=status_code, media_type="text/html; charset=utf-8", headers=headers)


def signed_in_guard(access: Access) -> Callable[[ASGIConnection, BaseRouteHandler], None]:
    """A session or bearer token of either role; the principal goes into the request's state."""
    def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        principal = access.principal(connection)
        if principal is None:
            raise NotAuthorizedException("sign in at /ui/login")
        connection.scope.setdefault("state", {})["principal"] = principal

    return signed_in


async def acting_admin(request: Request, access: Access) -> Principal:
    """The POST actions: an admin, with the session's CSRF token in the form or the htmx header."""
    principal: Principal = request.scope["state"]["principal"]
    form = await request.form()
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not access.csrf_ok(principal, given):
        raise PermissionDeniedException("the form's CSRF token is missing or stale: reload the page and try again")
    if not principal.admin:
        raise PermissionDeniedException("this action needs the admin role; you are signed in as a viewer")
    return principal

"""The operator console's pages under /ui/: server-rendered Jinja2 with htmx fragments. Every page
reads through the components' query modules (the same ones the JSON API uses); actions publish
the same events the API does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
from litestar import Request, Response, Router, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from contracts.errors import TransientError
from evaluator import queries as decisions_q
from evaluator.http import EventSink, request_evaluation
from executor import queries as executor_q
from notifier import queries as notifier_q
from projectors import queries as projectors_q
from replay.runs import Runs
from runtime.console import replays_page, rules_page
from runtime.console.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, Access, Principal, behind_tls
from runtime.console.story import stage_ids, timeline
from runtime.console.web import HERE, Pages, acting_admin, signed_in_guard

PAGE_SIZE = 50
ASHBY_APP_URL = "https://app.ashbyhq.com"
HealthProbe = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]
CandidateName = Callable[[str | None], Awaitable[str | None]]
"""The one lookup of a candidate's name for people (privacy's vault): "(erased)" after erasure."""


async def _no_name(candidate_id: str | None) -> str | None:
    return None


def console_handlers(pool: asyncpg.Pool, sink: EventSink, access: Access, health: HealthProbe,
                     candidate_name: CandidateName = _no_name, runs: Runs | None = None) -> list[Any]:
    pages = Pages(access)
    signed_in = signed_in_guard(access)

    def to_login(request: Request, exc: Exception) -> Response:
        if request.headers.get("hx-request"):
            return Response("signed out: reload the page", status_code=401, headers={"HX-Redirect": "/ui/login"})
        return Redirect(f"/ui/login?{urlencode({'next': request.url.path})}", status_code=303)

    def refused(request: Request, exc: Exception) -> Response:
        reason = getattr(exc, "detail", str(exc))
        if request.headers.get("hx-request"):
            return pages.render(request, "_notice.html", status_code=403, level="error", text=f"Refused: {reason}")
        return pages.render(request, "refused.html", status_code=403, reason=reason)

    @get("/login", summary="The console's sign-in form")
    async def login_form(request: Request, next: str = "/ui/", error: str | None = None) -> Response:
        return pages.render(request, "login.html", next=next, error=error)

    @post("/login", summary="Exchange a token for a session cookie", status_code=303)
    async def login(request: Request) -> Response:
        form = await request.form()
        role = access.role_of_token(str(form.get("token", "")))
        target = str(form.get("next") or "/ui/")
        target = target if target.startswith("/ui/") and not target.startswith("//") else "/ui/"
        if role is None:
            return pages.render(request, "login.html", status_code=401, next=target,
                                error="That token is not the admin or the viewer token.")
        response: Response = Redirect(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, access.new_session(role), max_age=int(access.ttl_s), path="/",
                            httponly=True, samesite="strict", secure=behind_tls(request))
        return response

    @post("/logout", summary="End the session", status_code=303, guards=[signed_in])
    async def logout(request: Request) -> Response:
        principal: Principal = request.scope["state"]["principal"]
        form = await request.form()
        if not access.csrf_ok(principal, request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)):
            raise PermissionDeniedException("the form's CSRF token is missing or stale")
        response: Response = Redirect("/ui/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def _decisions(outcome: str | None, job: str | None, stage: str | None, version: str | None,
                         after: str | None) -> dict[str, Any]:
        filters = decisions_q.DecisionFilter(outcome=outcome or None, job_id=job or None, stage_id=stage or None,
                                             rule_set_version=int(version) if version and version.isdigit() else None)
        async with pool.acquire() as conn:
            rows, cursor = await decisions_q.decisions_page(conn, filters, after=after or None, limit=PAGE_SIZE)
            stages = await projectors_q.stage_titles(conn, [d["stage_id"] for d in rows])
        query = {k: v for k, v in (("outcome", outcome), ("job", job), ("stage", stage), ("version", version)) if v}
        return {"decisions": rows, "next_url": f"?{urlencode({**query, 'after': cursor})}" if cursor else None,
                "filters": query, "stages": stages}

    @get(["/", "/inbox"], summary="Inbox: recent decisions, proposals waiting, failed commands", guards=[signed_in])
    async def inbox(request: Request, outcome: str | None = None, job: str | None = None, stage: str | None = None,
                    version: str | None = None, after: str | None = None) -> Response:
        try:
            page = await _decisions(outcome, job, stage, version, after)
        except ValueError as exc:
            return pages.render(request, "refused.html", status_code=400, reason=str(exc), title="Bad request")
        if request.headers.get("hx-request") and after:
            return pages.render(request, "_decision_rows.html", **page)
        async with pool.acquire() as conn:
            facets = await decisions_q.decision_facets(conn)
            proposals = await notifier_q.open_proposals(conn)
            failed = await executor_q.failed_commands(conn) + await notifier_q.failed_messages(conn)
        return pages.render(request, "inbox.html", facets=facets, proposals=proposals, failed=failed, **page)

    @get("/applications/{application_id:str}", summary="The story of one application", guards=[signed_in])
    async def story(request: Request, application_id: str) -> Response:
        async with pool.acquire() as conn:
            view = await projectors_q.application_view(conn, application_id)
            events = await projectors_q.events_for_key(conn, application_id, limit=2000)
            decisions, _ = await decisions_q.decisions_page(
                conn, decisions_q.DecisionFilter(application_id=application_id), limit=500)
            pending = await decisions_q.pending_page(conn, application_id=application_id)
            commands = await executor_q.commands_for(conn, application_id)
            messages = await notifier_q.messages_for(conn, application_id)
            stages = await projectors_q.stage_titles(conn, sorted(stage_ids(events, decisions, view, pending)))
        if view is None and not decisions:
            return pages.render(request, "refused.html", status_code=404, title="Not found",
                                reason=f"Nothing is recorded about application {application_id}.")
        name = await candidate_name((view or {}).get("candidate_id"))
        return pages.render(request, "story.html", application_id=application_id, view=view or {}, ashby_url=ASHBY_APP_URL,
                            candidate_name=name, entries=timeline(events, stages), stages=stages,
                            decisions={d["decision_id"]: d for d in decisions},
                            pending=pending[0] if pending else None, commands=commands, messages=messages)

    @post("/applications/{application_id:str}/evaluate", summary="Re-evaluate now (admin)", guards=[signed_in],
          status_code=202)
    async def evaluate(request: Request, application_id: str) -> Response:
        await acting_admin(request, access)
        try:
            event_id = await request_evaluation(sink, application_id, requested_by="console")
        except TransientError:
            return pages.render(request, "_notice.html", status_code=503, level="error",
                                text="The event store is unavailable; nothing was requested. Try again shortly.")
        return pages.render(request, "_notice.html", status_code=202, level="ok",
                            text=f"Evaluation requested (event {event_id}); reload to see its outcome.")

    @get("/pending", summary="What is waiting, and for whom", guards=[signed_in])
    async def pending(request: Request, after: str | None = None) -> Response:
        try:
            async with pool.acquire() as conn:
                rows = await decisions_q.pending_page(conn, limit=PAGE_SIZE + 1, after=after or None)
                stages = await projectors_q.stage_titles(conn, [r["stage_id"] for r in rows if r["stage_id"]])
                total = None if after else await decisions_q.pending_count(conn)
        except ValueError as exc:
            return pages.render(request, "refused.html", status_code=400, reason=str(exc), title="Bad request")
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        context: dict[str, Any] = {"rows": rows, "now": datetime.now(UTC).isoformat(), "stages": stages,
                   "next_url": f"pending?{urlencode({'after': decisions_q.pending_cursor(rows[-1])})}" if more else None}
        if request.headers.get("hx-request") and after:
            return pages.render(request, "_pending_rows.html", **context)
        return pages.render(request, "pending.html", total=total, **context)

    @get("/health", summary="Consumers, streams, dependencies", guards=[signed_in])
    async def health_page(request: Request) -> Response:
        status, report = await health()
        return pages.render(request, "health.html", status=status, report=report)

    rules = rules_page.handlers(pool, sink, pages, access, signed_in)
    replays = replays_page.handlers(pool, runs or Runs(pool), pages, signed_in)
    static = create_static_files_router(path="/ui/static", directories=[HERE / "static"], name="console-static",
                                        include_in_schema=False)
    router = Router(path="/ui", route_handlers=[login_form, login, logout, inbox, story, evaluate, pending,
                                                health_page, *rules, *replays], tags=["console"], include_in_schema=False,
                    exception_handlers={NotAuthorizedException: to_login, PermissionDeniedException: refused})
    return [router, static]

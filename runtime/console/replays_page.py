"""/ui/replays: start a what-if (an uploaded rule set or a stored version, against the active one or
the rules live at each point, over a time range) or a fidelity check (admin); a progress bar fed by
the run's heartbeat while it runs; its result (changed decisions, pass rates before and after,
verify defects); past runs. Reads and starts go through `replay.store` and `replay.runs`, the
same layer as `/api/replays`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from litestar import Request, Response, get, post

from evaluator import queries as decisions_q
from projectors import queries as projectors_q
from replay import store
from replay.request import RequestInvalid, parse_request
from replay.runs import Runs
from runtime.console.rules_page import MAX_UPLOAD_BYTES, uploaded_text
from runtime.console.web import Pages, acting_admin

CHANGES_KEPT = 500  # a console run keeps this many changed decisions (the JSON API can keep all)
CHANGES_SHOWN = 100
RECENT = 30


def progress_view(row: Any) -> dict[str, Any]:
    """A run's bar: events read of events to read (clamped: partitioned reads count the shared
    catalog events once per worker), as a percentage when the total is known."""
    total, read = row["events_total"], row["events_read"] or 0
    done = row["status"] == "done"
    if total is not None:
        read = total if done else min(read, total)
    percent = 100 if done else (int(100 * read / total) if total else None)
    return {"replay_id": row["replay_id"], "status": row["status"], "read": read, "total": total,
            "percent": percent, "heartbeat_at": row["heartbeat_at"].isoformat() if row["heartbeat_at"] else None,
            "created_at": row["created_at"].isoformat(), "error": row["error"], "summary": row["summary"] or {}}


def stage_rates(totals: list[dict[str, Any]], before: str, after: str) -> list[dict[str, Any]]:
    """Per stage, the per-rule tallies summed for each side, with their pass rate."""
    by_stage: dict[str, dict[str, dict[str, int]]] = {}
    for row in totals:
        sides = by_stage.setdefault(row["stage_id"], {before: {}, after: {}})
        for name in (before, after):
            for key in ("decided", "advanced", "rejected", "timed_out"):
                sides[name][key] = sides[name].get(key, 0) + int((row.get(name) or {}).get(key, 0))
    out = []
    for stage_id, sides in sorted(by_stage.items()):
        for tally in sides.values():
            tally_rate = tally["advanced"] / tally["decided"] if tally.get("decided") else None
            tally["pass_rate"] = tally_rate  # type: ignore[assignment]
        out.append({"stage_id": stage_id, **sides})
    return out


def request_body(form: Any, text: str, versions: list[dict[str, Any]]) -> dict[str, Any]:
    """The console's form as the API's request document (`replay.request.parse_request` judges it)."""
    by_version = {f"v{v['version']}": v for v in versions}
    body: dict[str, Any] = {"limit": CHANGES_KEPT}
    for key in ("since", "until"):
        if str(form.get(key) or "").strip():
            body[key] = str(form.get(key)).strip()
    if form.get("kind") == "verify":
        return {**body, "verify": True}
    source = str(form.get("source") or "upload")
    if source in by_version:
        body["rules"], body["name"] = by_version[source]["document"], source
    else:
        body["rules"] = text
    against = str(form.get("against") or "active")
    if against == "active" and versions:
        against = f"v{versions[0]['version']}"
    if against in by_version:
        body["against"], body["against_name"] = by_version[against]["document"], (
            f"active v{versions[0]['version']}" if against == f"v{versions[0]['version']}" else against)
    else:  # "current", or "active" with nothing ever activated: the rules live at each point
        body["against"] = "current"
    if body.get("name") and body["name"] == body.get("against_name", "").removeprefix("active "):
        body["name"] = f"{body['name']} (again)"
    return body


def handlers(pool: asyncpg.Pool, runs: Runs, pages: Pages, signed_in: Callable[..., None]) -> list[Any]:
    async def _run_context(conn: asyncpg.Connection, replay_id: str) -> dict[str, Any] | None:
        await runs.reap(conn)
        row = await store.progress(conn, replay_id)
        if row is None:
            return None
        context: dict[str, Any] = {"run": progress_view(row), "result": None, "stages": {}}
        if row["status"] == "done":
            full = await store.one(conn, replay_id, page=False)
            result = (full["result"] if full else None) or {}
            compared = (result.get("summary") or {}).get("compared")
            changes = result.get("changes") or []
            context["result"] = result
            context["changes"] = changes[:CHANGES_SHOWN]
            context["verify"] = (result.get("summary") or {}).get("verify")
            if compared:
                context["before"], context["after"] = compared["before"], compared["after"]
                context["stage_rates"] = stage_rates(result.get("totals") or [], compared["before"], compared["after"])
            ids = {r["stage_id"] for r in result.get("totals") or []} | {c["stage_id"] for c in changes}
            ids |= {d["stage_id"] for d in result.get("defects") or [] if d.get("stage_id")}
            context["stages"] = await projectors_q.stage_titles(conn, sorted(ids))
        return context

    def _missing(request: Request, replay_id: str) -> Response:
        return pages.render(request, "refused.html", status_code=404, title="Not found",
                            reason=f"No replay {replay_id} was started.")

    @get("/replays", summary="What-if replays: start one, watch it, past runs", guards=[signed_in])
    async def replays(request: Request) -> Response:
        async with pool.acquire() as conn:
            await runs.reap(conn)
            recent = [progress_view(r) for r in await store.recent(conn, RECENT)]
            versions = await decisions_q.rule_set_versions(conn)
        return pages.render(request, "replays.html", recent=recent, versions=versions,
                            active=versions[0] if versions else None, max_bytes=MAX_UPLOAD_BYTES)

    @post("/replays", summary="Start a what-if or a fidelity check (admin)", guards=[signed_in], status_code=202)
    async def start(request: Request) -> Response:
        await acting_admin(request, pages.access)
        form = await request.form()
        try:
            text = await uploaded_text(request) if form.get("source", "upload") == "upload" else ""
        except ValueError as exc:
            return pages.render(request, "_replay_problems.html", status_code=400,
                                problems=[{"location": "file", "message": str(exc)}])
        async with pool.acquire() as conn:
            versions = await decisions_q.rule_set_versions(conn)
        body = request_body(form, text, versions)
        try:
            replay, limit = parse_request(body)
        except RequestInvalid as exc:
            return pages.render(request, "_replay_problems.html", status_code=400,
                                problems=[{"location": p.location, "message": p.message} for p in exc.problems])
        replay_id = await runs.start(replay, limit, {**body, "started_by": "console"})
        async with pool.acquire() as conn:
            context = await _run_context(conn, replay_id)
        if not request.headers.get("hx-request"):
            return Response("", status_code=303, headers={"Location": f"/ui/replays/{replay_id}"})
        return pages.render(request, "_replay_run.html", status_code=202, **(context or {}))

    @get("/replays/{replay_id:str}", summary="One replay: its progress, then its result", guards=[signed_in])
    async def replay_page(request: Request, replay_id: str) -> Response:
        async with pool.acquire() as conn:
            context = await _run_context(conn, replay_id)
        if context is None:
            return _missing(request, replay_id)
        return pages.render(request, "replay.html", **context)

    @get("/replays/{replay_id:str}/progress", summary="A replay's progress bar (htmx polls it)", guards=[signed_in])
    async def progress(request: Request, replay_id: str) -> Response:
        async with pool.acquire() as conn:
            context = await _run_context(conn, replay_id)
        if context is None:
            return _missing(request, replay_id)
        return pages.render(request, "_replay_run.html", **context)

    return [replays, start, replay_page, progress]

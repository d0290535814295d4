"""`POST /api/replays`, `GET /api/replays/{id}` and `GET /api/replays`: what-if replays and
fidelity checks from the API, as thin routes over `replay.request` (parsing) and `replay.runs`
(running in the background, results kept in the `replays` row).

The router is given the database pool and nothing else (no publisher, no Ashby or Slack client),
so a replay cannot send anything anywhere; it reads `event_log` and writes only its own row in
`replays`. Reading a replay first marks rows whose process stopped `failed` ("interrupted"), so a
client polling for the result gets an answer instead of `running` forever.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
from litestar import Request, Response, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.types import Guard

from compliance.impact import DEFAULT_MIN_GROUP_SIZE
from contracts.errors import error_body
from evaluator.pure_core import Problem, parse_document
from replay import store
from replay.request import RequestInvalid, parse_request
from replay.runs import Runs


def _document(body: bytes, content_type: str) -> Any:
    fmt: Literal["yaml", "json"] = "json" if "json" in content_type or body.lstrip()[:1] in (b"{", b"[") else "yaml"
    return parse_document(body, fmt=fmt)


def _invalid(exc: ValueError) -> Response[Any]:
    """400 naming every problem: the request's own (RequestInvalid), or the body's syntax."""
    if isinstance(exc, RequestInvalid):
        problems = [{"location": p.location, "message": p.message} for p in exc.problems]
    else:  # RuleSetInvalid from the body's own syntax
        found = getattr(exc, "problems", None) or [Problem("body", str(exc))]
        problems = [{"location": "body", "message": p.message} for p in found]
    return Response(error_body(400, "invalid replay request", {"problems": problems[:20]}), status_code=400)


def _page(row: asyncpg.Record) -> Response[Any]:
    if row["report_html"] is None:
        return Response({"status": row["status"], "error": row["error"]}, status_code=409)
    return Response(row["report_html"], media_type="text/html")


def replay_router(pool: asyncpg.Pool, guards: list[Guard], *, database_url: str | None = None,
                  min_group_size: int = DEFAULT_MIN_GROUP_SIZE, runs: Runs | None = None) -> Router:
    """`database_url`: see `Runs` (worker processes of their own for a large replay);
    `min_group_size`: the impact tables' (IMPACT_MIN_GROUP_SIZE); `runs`: the process's one
    `Runs`, shared with the console's /ui/replays (the other two arguments are then its own)."""
    runs = runs or Runs(pool, database_url, min_group_size=min_group_size)

    @post("/replays", summary="Replay the log with a rule set (what-if) or check fidelity; returns its id")
    async def start_replay(request: Request[Any, Any, Any]) -> Response[Any]:
        try:
            body = _document(await request.body(), request.headers.get("content-type", ""))
            replay, limit = parse_request(body)
        except ValueError as exc:
            return _invalid(exc)
        replay_id = await runs.start(replay, limit, dict(body.items()) if isinstance(body, dict) else {})
        return Response({"replay_id": replay_id, "status": "running", "url": f"/api/replays/{replay_id}"},
                        status_code=202, headers={"Location": f"/api/replays/{replay_id}"})

    @get("/replays/{replay_id:str}", summary="A replay: status, and when done its summary, totals and changes")
    async def get_replay(replay_id: Annotated[str, Parameter(max_length=256, pattern=r"^[^\x00\ud800-\udfff]+$")],
                         format: Literal["json", "html"] = "json") -> Response[Any]:
        async with pool.acquire() as conn:
            await runs.reap(conn)
            row = await store.one(conn, replay_id, page=format == "html")
        if row is None:
            raise NotFoundException(f"no replay {replay_id}")
        return _page(row) if format == "html" else Response(store.as_json(row, full=True))

    @get("/replays", summary="Recent replays, newest first")
    async def list_replays(limit: Annotated[int, Parameter(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            await runs.reap(conn)
            rows = await store.recent(conn, limit)
        return [store.as_json(r, full=False) for r in rows]

    return Router(path="/api", route_handlers=[start_replay, get_replay, list_replays], guards=guards,
                  tags=["replay"])

"""`POST /api/replays` and `GET /api/replays/{id}`: what-if replays and fidelity checks from the API.

The router is given the database pool and nothing else (no publisher, no Ashby or Slack client),
so a replay cannot send anything anywhere; it reads `event_log` and writes only its own row in
`replays`. A replay runs in the background of the HTTP process; its result is kept in that row.
While it runs, it beats: `heartbeat_at` and `events_read` are updated every `HEARTBEAT_SECONDS`.
A row still `running` whose heartbeat is older than `STALE_AFTER_SECONDS` belonged to a process
that stopped; reading it marks it `failed` ("interrupted"), so a client polling for the result
gets an answer instead of `running` forever.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import asyncpg
import structlog
from litestar import Request, Response, Router, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.types import Guard

from contracts.errors import error_body
from evaluator.history import ReplayRequest, run_request
from evaluator.report import to_html
from evaluator.rules import Problem, RuleSet, parse_document, validate_document

log = structlog.get_logger(__name__)
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 60.0
_OPTIONS = {"rules", "against", "since", "until", "verify", "limit", "name", "against_name", "workers"}
MAX_WORKERS = 8


class RequestInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def parse_moment(value: Any) -> datetime:
    """'2026-01-31' (midnight UTC) or an ISO date-time (UTC when it names no zone)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a date or date-time, got {value!r}")
    text = value.strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rule_set(value: Any, where: str, problems: list[Problem]) -> RuleSet | None:
    if isinstance(value, str):
        try:
            value = parse_document(value, fmt="json" if value.lstrip()[:1] == "{" else "yaml")
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            return None
    found = validate_document(value)
    problems += [Problem(f"{where}.{p.location}" if p.location != "document" else where, p.message) for p in found]
    return None if found else RuleSet.model_validate(value)


def parse_request(body: Any) -> tuple[ReplayRequest, int | None]:
    """The request document: {rules, against?, since?, until?, verify?, limit?, name?,
    against_name?, workers?}; `rules` and `against` are rule-set documents (or their YAML/JSON
    text), `against` may be "current"; `workers` (processes, 1 to MAX_WORKERS) defaults to the
    log's size (`history.auto_workers`). Raises RequestInvalid listing every problem with its
    location."""
    if not isinstance(body, dict):
        raise RequestInvalid([Problem("body", "expected a mapping with at least `rules` (or `verify: true`)")])
    if isinstance(body.get("rules"), list):
        # a rule-set file posted as it is: say what to wrap it in, not what is wrong with it as a request
        raise RequestInvalid([Problem("body", "this is a rule set, not a replay request: send "
                                              "{\"rules\": <the rule set>} (plus since, until, against... if needed)")])
    problems = [Problem(k, "unknown field") for k in body if k not in _OPTIONS]
    verify = body.get("verify", False)
    if not isinstance(verify, bool):
        problems.append(Problem("verify", "should be true or false"))
    rules = against = None
    if "rules" in body:
        rules = _rule_set(body["rules"], "rules", problems)
    elif not verify:
        problems.append(Problem("rules", "is required (the rule set to try), unless `verify` is true"))
    raw_against = body.get("against", "current")
    if not (isinstance(raw_against, str) and raw_against.strip().lower() == "current"):
        against = _rule_set(raw_against, "against", problems)
    moments: dict[str, datetime | None] = {}
    for key in ("since", "until"):
        try:
            moments[key] = parse_moment(body[key]) if body.get(key) is not None else None
        except ValueError as exc:
            problems.append(Problem(key, f"not a date: {exc}"))
    if moments.get("since") and moments.get("until") and moments["since"] > moments["until"]:  # type: ignore[operator]
        problems.append(Problem("since", "is after `until`: nothing to report"))
    limit = body.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        problems.append(Problem("limit", "should be a positive whole number"))
    workers = body.get("workers")
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                or not 1 <= workers <= MAX_WORKERS):
        problems.append(Problem("workers", f"should be a whole number from 1 to {MAX_WORKERS}"))
    if problems:
        raise RequestInvalid(problems)
    request = ReplayRequest(rules=rules, against=against, since=moments.get("since"), until=moments.get("until"),
                            verify=bool(verify), workers=workers or 0, before_name=str(body.get("against_name") or (
                                "current" if against is None else "against")),
                            after_name=str(body.get("name") or (rules.name if rules else "proposed")))
    return request, limit


def _document(body: bytes, content_type: str) -> Any:
    fmt: Literal["yaml", "json"] = "json" if "json" in content_type or body.lstrip()[:1] in (b"{", b"[") else "yaml"
    return parse_document(body, fmt=fmt)


_LISTED = "replay_id, status, created_at, finished_at, heartbeat_at, events_read, summary, error"
"""What a listing shows of each replay: not its result or page (megabytes for a large log)."""


def _row(r: asyncpg.Record, *, full: bool) -> dict[str, Any]:
    out = {"replay_id": r["replay_id"], "status": r["status"], "created_at": r["created_at"].isoformat(),
           "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None,
           "heartbeat_at": r["heartbeat_at"].isoformat() if r["heartbeat_at"] else None,
           "events_read": r["events_read"], "summary": r["summary"], "error": r["error"]}
    if full:
        out["request"] = r["request"]
        out["result"] = r["result"]
    return out


def replay_router(pool: asyncpg.Pool, guards: list[Guard], *, database_url: str | None = None) -> Router:
    """`database_url`: lets a large replay run in worker processes of its own (each opens its own
    connection), keeping the HTTP process's memory and CPU for its requests; without it, every
    replay folds in a thread of this process."""
    running: set[asyncio.Task] = set()

    async def beat(replay_id: str, read: list[int]) -> None:
        """Until cancelled: the row's heartbeat and the events read so far."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                async with pool.acquire() as conn:
                    await conn.execute("UPDATE replays SET heartbeat_at = now(), events_read = $2 "
                                       "WHERE replay_id = $1 AND status = 'running'", replay_id, read[0])
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:  # the next beat tries again
                log.warning("replay_heartbeat_failed", replay_id=replay_id, error=type(exc).__name__)

    async def execute(replay_id: str, request: ReplayRequest, limit: int | None) -> None:
        read = [0]

        def progress(events: int, _seq: int) -> None:
            read[0] = events

        beating = asyncio.create_task(beat(replay_id, read), name=f"replay-heartbeat-{replay_id}")
        try:
            async with pool.acquire() as conn:
                outcome = await run_request(conn, request, now=datetime.now(UTC), database_url=database_url,
                                            progress=progress)
            result = outcome.as_json(limit)
            page = to_html(outcome.run, outcome.diff, outcome.defects, limit or 500)
            async with pool.acquire() as conn:
                await conn.execute(
                    """UPDATE replays SET status = 'done', finished_at = now(), events_read = $2, summary = $3,
                       result = $4, report_html = $5 WHERE replay_id = $1""",
                    replay_id, outcome.run.events, result["summary"], result, page)
            log.info("replay_finished", replay_id=replay_id, events=outcome.run.events,
                     seconds=round(outcome.seconds, 2))
        except Exception as exc:  # noqa: BLE001 - recorded on the replay, not raised into nothing
            log.error("replay_failed", replay_id=replay_id, error=f"{type(exc).__name__}: {exc}"[:300])
            async with pool.acquire() as conn:
                await conn.execute("UPDATE replays SET status = 'failed', finished_at = now(), error = $2 "
                                   "WHERE replay_id = $1", replay_id, f"{type(exc).__name__}: {exc}"[:2000])
        finally:
            beating.cancel()

    async def reap(conn: asyncpg.Connection) -> None:
        """Rows whose process stopped while they ran (no heartbeat for a while) become failed."""
        await conn.execute(
            """UPDATE replays SET status = 'failed', finished_at = now(),
                      error = 'interrupted: the process running this replay stopped (no heartbeat since '
                              || to_char(coalesce(heartbeat_at, created_at) AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '); start it again'
               WHERE status = 'running' AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => $1)""",
            STALE_AFTER_SECONDS)

    @post("/replays", summary="Replay the log with a rule set (what-if) or check fidelity; returns its id")
    async def start_replay(request: Request) -> Response:
        try:
            body = _document(await request.body(), request.headers.get("content-type", ""))
            replay, limit = parse_request(body)
        except RequestInvalid as exc:
            return Response(error_body(400, "invalid replay request", {"problems": [
                {"location": p.location, "message": p.message} for p in exc.problems[:20]]}), status_code=400)
        except ValueError as exc:  # RuleSetInvalid from the body's own syntax
            problems = getattr(exc, "problems", None) or [Problem("body", str(exc))]
            return Response(error_body(400, "invalid replay request", {"problems": [
                {"location": "body", "message": p.message} for p in problems[:20]]}), status_code=400)
        replay_id = uuid.uuid4().hex
        stored = {k: v for k, v in body.items()} if isinstance(body, dict) else {}
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO replays (replay_id, status, request, heartbeat_at) "
                               "VALUES ($1, 'running', $2, now())", replay_id, stored)
        task = asyncio.create_task(execute(replay_id, replay, limit), name=f"replay-{replay_id}")
        running.add(task)
        task.add_done_callback(running.discard)
        return Response({"replay_id": replay_id, "status": "running", "url": f"/api/replays/{replay_id}"},
                        status_code=202, headers={"Location": f"/api/replays/{replay_id}"})

    @get("/replays/{replay_id:str}", summary="A replay: status, and when done its summary, totals and changes")
    async def get_replay(replay_id: Annotated[str, Parameter(max_length=256, pattern=r"^[^\x00\ud800-\udfff]+$")],
                         format: Literal["json", "html"] = "json") -> Response:
        async with pool.acquire() as conn:
            await reap(conn)
            columns = "status, error, report_html" if format == "html" else f"{_LISTED}, request, result"
            row = await conn.fetchrow(f"SELECT {columns} FROM replays WHERE replay_id = $1", replay_id)
        if row is None:
            raise NotFoundException(f"no replay {replay_id}")
        if format == "html":
            if row["report_html"] is None:
                return Response({"status": row["status"], "error": row["error"]}, status_code=409)
            return Response(row["report_html"], media_type="text/html")
        return Response(_row(row, full=True))

    @get("/replays", summary="Recent replays, newest first")
    async def list_replays(limit: Annotated[int, Parameter(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            await reap(conn)
            rows = await conn.fetch(f"SELECT {_LISTED} FROM replays ORDER BY created_at DESC LIMIT $1",
                                    limit)
        return [_row(r, full=False) for r in rows]

    return Router(path="/api", route_handlers=[start_replay, get_replay, list_replays], guards=guards,
                  tags=["replay"])

"""Replays run in the background of the HTTP process: started with a row in `replays`, beating
while they run (`heartbeat_at`, `events_read` every `HEARTBEAT_SECONDS`), finished with their
result and page in that row or their error. A row still `running` whose heartbeat is older than
`STALE_AFTER_SECONDS` belonged to a process that stopped; `reap` marks it `failed`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from compliance.impact import DEFAULT_MIN_GROUP_SIZE
from replay import store
from replay.history import events_up_to, run_request
from replay.report import to_html
from replay.request import ReplayRequest

log = structlog.get_logger(__name__)
HEARTBEAT_SECONDS = 1.0  # also how often a progress bar (the console's) can move
STALE_AFTER_SECONDS = 60.0


class Runs:
    """`database_url`: lets a large replay run in worker processes of its own (each opens its own
    connection), keeping the HTTP process's memory and CPU for its requests; without it, every
    replay folds in a thread of this process."""

    def __init__(self, pool: asyncpg.Pool, database_url: str | None = None, *,
                 min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> None:
        self.pool, self.database_url, self.min_group_size = pool, database_url, min_group_size
        self._running: set[asyncio.Task[None]] = set()

    async def start(self, request: ReplayRequest, limit: int | None, document: dict[str, Any]) -> str:
        """Store the request as a `running` row and run it in the background; the replay's id."""
        replay_id = uuid.uuid4().hex
        async with self.pool.acquire() as conn:
            total = await events_up_to(conn, request.until)
            await store.insert_running(conn, replay_id, document, total)
        task = asyncio.create_task(self._execute(replay_id, request, limit), name=f"replay-{replay_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return replay_id

    async def reap(self, conn: asyncpg.Connection) -> None:
        await store.reap(conn, STALE_AFTER_SECONDS)

    async def _beat(self, replay_id: str, read: list[int]) -> None:
        """Until cancelled: the row's heartbeat and the events read so far."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                async with self.pool.acquire() as conn:
                    await store.beat(conn, replay_id, read[0])
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:  # the next beat tries again
                log.warning("replay_heartbeat_failed", replay_id=replay_id, error=type(exc).__name__)

    async def _execute(self, replay_id: str, request: ReplayRequest, limit: int | None) -> None:
        read = [0]

        def progress(events: int, _seq: int) -> None:
            read[0] = events

        beating = asyncio.create_task(self._beat(replay_id, read), name=f"replay-heartbeat-{replay_id}")
        try:
            async with self.pool.acquire() as conn:
                outcome = await run_request(conn, request, now=datetime.now(UTC), database_url=self.database_url,
                                            progress=progress, min_group_size=self.min_group_size)
            result = outcome.as_json(limit)
            page = to_html(outcome.run, outcome.diff, outcome.defects, limit or 500)
            async with self.pool.acquire() as conn:
                await store.finish_done(conn, replay_id, outcome.run.events, result, page)
            log.info("replay_finished", replay_id=replay_id, events=outcome.run.events,
                     seconds=round(outcome.seconds, 2))
        except Exception as exc:  # noqa: BLE001 - recorded on the replay, not raised into nothing
            log.error("replay_failed", replay_id=replay_id, error=f"{type(exc).__name__}: {exc}"[:300])
            async with self.pool.acquire() as conn:
                await store.finish_failed(conn, replay_id, f"{type(exc).__name__}: {exc}"[:2000])
        finally:
            beating.cancel()

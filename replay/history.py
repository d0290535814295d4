"""Reading recorded history for replay: envelopes in log order from the `event_log` table (a
server-side cursor, in chunks, upcast on read) or from JetStream EVENTS (an ordered ephemeral
consumer), and running the pure replay engine over them, optionally in several processes, each
taking a share of the applications. Reads only; publishes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from compliance.impact import DEFAULT_MIN_GROUP_SIZE
from compliance.impact import report as impact_report
from compliance.store import categories_by_application
from contracts import subjects
from contracts.envelope import Envelope, parse_envelope
from contracts.errors import PermanentError
from contracts.event_log import LOGGED_EVENT_COLUMNS, LoggedEvent, json_codecs, log_row_event
from replay.replayer import CLOCK_TICK, Replayer, RuleSource
from replay.replayer import SHARED_TYPES as REPLAY_SHARED_TYPES
from replay.report import Diff, compare, merge_diffs, to_json
from replay.request import ReplayRequest
from replay.results import Defect, Replay, merge, substitute, verify

MAX_AUTO_WORKERS = 4
AUTO_WORKERS_FROM = 100_000
"""Below this many events a second process costs more (its start, its own read) than it saves."""


def auto_workers(events: int, cpus: int | None = None) -> int:
    """Processes for a replay of `events` when the caller did not say (`ReplayRequest.workers` 0):
    one per CPU, at most `MAX_AUTO_WORKERS`, from `AUTO_WORKERS_FROM` events; else one."""
    if events < AUTO_WORKERS_FROM:
        return 1
    return max(1, min(MAX_AUTO_WORKERS, cpus if cpus is not None else (os.cpu_count() or 1)))


SHARED_TYPES = sorted(REPLAY_SHARED_TYPES)
"""Read by every partition: the plans and rules in force."""

_COLUMNS = LOGGED_EVENT_COLUMNS
Progress = Callable[[int, int], None]  # (events read so far, last stream sequence read)


def log_query(*, until: datetime | None = None, partition: tuple[int, int] | None = None,
              keys: list[str] | None = None, after_seq: int = 0) -> tuple[str, list[Any]]:
    """The SQL for the log up to `until` (rows of `LoggedEvent`), optionally for a share of the
    applications (`partition`) or for some of them (`keys`); catalog and rule-set events are always
    read. There is no lower bound: `since` only limits what is reported, because a decision inside
    the window can hang on anything earlier (feedback before the window, a timer armed before it)."""
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    where = [f"stream_seq > {arg(after_seq)}"]
    if until is not None:
        where.append(f"recorded_at <= {arg(until)}")
    keyed = []
    if keys is not None:
        keyed.append(f"key = ANY({arg(keys)}::text[])")
    if partition is not None:
        index, count = partition
        keyed.append(f"(hashtext(key) & 2147483647) % {arg(count)} = {arg(index)}")
    if not keyed:
        return f"SELECT {_COLUMNS} FROM event_log WHERE {' AND '.join(where)} ORDER BY stream_seq", args
    # the other applications' rows are left out, but each row read carries the log's clock there
    # (the latest `recorded_at` so far): the virtual clock must be the one a replay of the whole
    # log has, or a timer could fire on the other side of an event
    wanted = f"event_type = ANY({arg(SHARED_TYPES)}::text[]) OR ({' AND '.join(keyed)})"
    return (f"SELECT {_COLUMNS}, clock FROM (SELECT {_COLUMNS}, max(recorded_at) OVER (ORDER BY stream_seq) "
            f"AS clock FROM event_log WHERE {' AND '.join(where)}) AS log WHERE {wanted} ORDER BY stream_seq", args)


async def log_batches(conn: asyncpg.Connection, *, until: datetime | None = None,
                      partition: tuple[int, int] | None = None, keys: list[str] | None = None,
                      batch_size: int = 2000, progress: Progress | None = None) -> AsyncIterator[list[LoggedEvent]]:
    """Events in stream order, a batch at a time, from one consistent snapshot of event_log;
    the next batch is fetched while the caller works on the current one. A partial read
    (`partition`, `keys`) ends with a clock tick at the log's last `recorded_at`, so timers fire
    up to where a read of the whole log would have taken the clock."""
    sql, args = log_query(until=until, partition=partition, keys=keys)
    seen = 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        cursor = await conn.cursor(sql, *args)
        pending = asyncio.ensure_future(cursor.fetch(batch_size))
        try:
            while True:
                rows = await pending
                if not rows:
                    break
                pending = asyncio.ensure_future(cursor.fetch(batch_size))
                seen += len(rows)
                if progress is not None:
                    progress(seen, rows[-1][10])
                yield [log_row_event(r) for r in rows]
        finally:
            if not pending.done():
                pending.cancel()
                try:
                    await pending
                except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing the cursor anyway
                    pass
        if partition is not None or keys is not None:
            last = await conn.fetchval("SELECT max(recorded_at) FROM event_log WHERE $1::timestamptz IS NULL "
                                       "OR recorded_at <= $1", until)
            if last is not None:
                yield [clock_tick(last)]


def clock_tick(at: datetime) -> LoggedEvent:
    """An event that only moves the virtual clock to `at`."""
    return LoggedEvent("", CLOCK_TICK, 1, "", "replay", at, at, None, None, {})


async def log_extent(conn: asyncpg.Connection) -> tuple[int, int]:
    """(events in the log, last stream sequence): for progress bars."""
    row = await conn.fetchrow("SELECT count(*) AS n, coalesce(max(stream_seq), 0) AS last FROM event_log")
    return int(row["n"]), int(row["last"])


async def events_up_to(conn: asyncpg.Connection, until: datetime | None) -> int:
    """How many events a replay up to `until` reads (a progress bar's end; partitioned reads
    count the shared catalog and rule-set events once per worker, so a bar clamps at its end)."""
    return int(await conn.fetchval("SELECT count(*) FROM event_log WHERE $1::timestamptz IS NULL "
                                   "OR recorded_at <= $1", until))


async def stream_batches(js: Any, *, until: datetime | None = None, batch_size: int = 1000,
                         progress: Progress | None = None) -> AsyncIterator[list[Envelope]]:
    """Envelopes straight from JetStream EVENTS (ordered ephemeral consumer, no acks), up to the
    last message stored when the read began. Messages that are not envelopes are skipped (the
    live consumers dead-letter them); events recorded after `until` are left out."""
    info = await js.stream_info(subjects.EVENTS_STREAM)
    last = info.state.last_seq
    if info.state.messages == 0:
        return
    sub = await js.subscribe(subjects.EVENTS_ALL, stream=subjects.EVENTS_STREAM, ordered_consumer=True,
                             pending_msgs_limit=max(batch_size * 4, 4096))
    seen, batch = 0, []
    try:
        while True:
            msg = await sub.next_msg(timeout=10)
            seq = msg.metadata.sequence.stream
            try:
                env = parse_envelope(msg.data)
            except PermanentError:
                env = None
            if env is not None and (until is None or env.recorded_at <= until):
                batch.append(env)
            seen += 1
            if len(batch) >= batch_size or seq >= last:
                if progress is not None:
                    progress(seen, seq)
                if batch:
                    yield batch
                batch = []
            if seq >= last:
                break
    finally:
        await sub.unsubscribe()


async def replay_log(conn: asyncpg.Connection, lanes: Mapping[str, RuleSource], *, since: datetime | None = None,
                     until: datetime | None = None, horizon: datetime | None = None,
                     partition: tuple[int, int] | None = None, progress: Progress | None = None,
                     in_thread: bool = True) -> Replay:
    """Replay event_log. Finished applications are dropped from memory as the replay goes; the
    rare one that Ashby reopens afterwards is replayed again on its own, with its whole history,
    so the result stays exact. Folding runs in a worker thread so the event loop keeps reading
    (and serving) meanwhile; `in_thread=False` folds in the loop's thread (a process of its own,
    which serves nothing else)."""

    async def fold(step: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(step, *args) if in_thread else step(*args)

    replayer = Replayer(lanes, since=since, until=until)
    async for batch in log_batches(conn, until=until, partition=partition, progress=progress):
        await fold(replayer.feed_logged, batch)
    run = await fold(replayer.finish, horizon)
    if run.revived_ids:
        again = Replayer(lanes, since=since, until=until, drop_finished=False)
        async for batch in log_batches(conn, until=until, partition=partition, keys=sorted(run.revived_ids)):
            await fold(again.feed_logged, batch)
        run = substitute(run, await fold(again.finish, horizon), run.revived_ids)
    return run


# --- several processes ------------------------------------------------------------------------


_COUNTER: Any = None  # the shared progress counter, handed to each worker process when it starts


def _init_worker(counter: Any, pids: Any) -> None:
    global _COUNTER
    _COUNTER = counter
    with pids.get_lock():  # its pid in the first free slot, so the parent can end it (`_stop`)
        slot = list(pids).index(0)
        pids[slot] = os.getpid()


def _partition_worker(database_url: str, lanes: Mapping[str, RuleSource], since: datetime | None,
                      until: datetime | None, horizon: datetime | None, partition: tuple[int, int],
                      compared: tuple[str, str] | None = None,
                      explanations: bool = True) -> tuple[Replay, Diff | None]:
    """Runs in a child process: its own connection, its share of the applications. With
    `compared`, the two lanes' diff is made here too (in parallel with the other partitions), and
    only the counts of the lanes' decisions go back (`ReplayResult.summarise`): the diff holds
    what a report shows of them. Without `explanations`, the decisions go back without their
    explanation JSON (most of what would be pickled and sent between processes): `verify` reads
    none."""
    counter = _COUNTER
    # a process of its own: a replay keeps many small objects alive for long, which the default
    # thresholds of the cycle collector would traverse again and again (about a fifth of the time)
    gc.set_threshold(50_000, 20, 100)

    async def run() -> Replay:
        conn = await asyncpg.connect(database_url)
        try:
            await json_codecs(conn)
            last = [0]

            def progress(n: int, _seq: int) -> None:
                if counter is not None:
                    with counter.get_lock():
                        counter.value += n - last[0]
                last[0] = n

            return await replay_log(conn, lanes, since=since, until=until, horizon=horizon, partition=partition,
                                    progress=progress, in_thread=False)
        finally:
            await conn.close()

    result = asyncio.run(run())
    if compared is not None:
        diff = compare(result[compared[0]], result[compared[1]])
        for lane in result.lanes.values():
            lane.summarise()
        return result, diff
    if not explanations:
        for lane in result.lanes.values():
            lane.decisions = [d._replace(explanation_json=b"") for d in lane.decisions]
    return result, None


async def replay_partitioned(database_url: str, lanes: Mapping[str, RuleSource], *, workers: int,
                             since: datetime | None = None, until: datetime | None = None,
                             horizon: datetime | None = None,
                             progress: Callable[[int], None] | None = None, explanations: bool = True) -> Replay:
    """The same replay split by application over `workers` processes (each reads its share of
    the log and every catalog and rule-set event), merged into one result. `explanations=False`:
    the decisions come back without their explanation JSON (enough for `verify`)."""
    run, _ = await _partitioned(database_url, lanes, workers, since, until, horizon, progress, None, explanations)
    return run


async def what_if_partitioned(database_url: str, lanes: Mapping[str, RuleSource], compared: tuple[str, str], *,
                              workers: int, since: datetime | None = None, until: datetime | None = None,
                              horizon: datetime | None = None,
                              progress: Callable[[int], None] | None = None) -> tuple[Replay, Diff]:
    """`replay_partitioned` and the diff of the `compared` lanes, each partition diffing its own
    applications. The lanes come back summarised, as counts of decisions by outcome (the diff's
    changes carry the decisions that differ and the requirement values that explain them)."""
    run, diff = await _partitioned(database_url, lanes, workers, since, until, horizon, progress, compared, False)
    assert diff is not None
    return run, diff


async def _partitioned(database_url: str, lanes: Mapping[str, RuleSource], workers: int, since: datetime | None,
                       until: datetime | None, horizon: datetime | None, progress: Callable[[int], None] | None,
                       compared: tuple[str, str] | None, explanations: bool) -> tuple[Replay, Diff | None]:
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    pids = ctx.Array("q", workers)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(counter, pids)) as pool:
        futures = [loop.run_in_executor(pool, _partition_worker, database_url, dict(lanes), since, until, horizon,
                                        (i, workers), compared, explanations) for i in range(workers)]
        waiter = asyncio.gather(*futures)
        try:
            while progress is not None and not waiter.done():
                progress(counter.value)
                await asyncio.wait([waiter], timeout=0.25)
            parts = await waiter
        except BaseException:
            await _stop(pool, waiter, pids)  # cancelled (a shutting-down server, Ctrl-C) or a worker failed
            raise
    if progress is not None:
        progress(counter.value)
    run = merge(part for part, _ in parts)
    diffs = [diff for _, diff in parts if diff is not None]
    return run, merge_diffs(diffs) if compared is not None else None


async def _stop(pool: ProcessPoolExecutor, waiter: asyncio.Future, pids: Any) -> None:
    """End a partitioned replay now: leaving the pool's `with` would otherwise wait for every
    worker to finish its share (a minute on a large log) while the caller is being cancelled.
    The workers are ended by the pids they write at start-up (the pool has no public way before
    Python 3.14's `terminate_workers`); one still starting is waited for, briefly, so none is left
    to start once its parent has gone."""
    waiter.cancel()
    if not waiter.cancelled() and waiter.done():
        waiter.exception()  # retrieved: the caller raises its own
    ended: set[int] = set()
    deadline = time.monotonic() + 10
    while True:
        for pid in pids[:]:
            if pid and pid not in ended:
                ended.add(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        if len(ended) == len(pids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    pool.shutdown(wait=False, cancel_futures=True)


# --- one request, as the CLI and the API run it ------------------------------------------------


@dataclass
class ReplayOutcome:
    run: Replay
    diff: Diff | None
    defects: list[Defect] | None
    seconds: float

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        return {**to_json(self.run, self.diff, self.defects, limit), "seconds": round(self.seconds, 3)}


async def with_impact(conn: asyncpg.Connection, diff: Diff, request: ReplayRequest, min_group_size: int) -> None:
    """Each side's selection rates and impact ratios by the categories the operator imported (read
    from the compliance tables: the one read of a replay beyond event_log; nothing is written)."""
    apps = sorted({u.application_id for units in diff.selections.values() for u in units})
    categories = await categories_by_application(conn, apps)
    since = request.since.isoformat() if request.since else None
    until = request.until.isoformat() if request.until else None
    diff.impact = {name: impact_report(name, units, categories, min_group_size=min_group_size, since=since,
                                       until=until)
                   for name, units in diff.selections.items()}


async def run_request(conn: asyncpg.Connection, request: ReplayRequest, *, now: datetime,
                      database_url: str | None = None, progress: Progress | None = None,
                      min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> ReplayOutcome:
    """Replay event_log for one request. Timers fire up to `until` (or `now`) for a what-if; for
    `verify`, up to the last event read, since live cannot have fired a later one yet. Reads only.
    A what-if's diff carries each side's impact table (`with_impact`)."""
    started = time.perf_counter()
    lanes = request.lanes()
    workers = request.workers if request.workers > 0 else auto_workers((await log_extent(conn))[0])
    if request.verify:
        horizon = await conn.fetchval("SELECT max(recorded_at) FROM event_log WHERE $1::timestamptz IS NULL "
                                      "OR recorded_at <= $1", request.until)
    else:
        horizon = request.until or now
    names = list(lanes)
    diff: Diff | None = None
    defects: list[Defect] | None = None
    if workers > 1 and database_url:
        def counted(n: int) -> None:
            if progress is not None:
                progress(n, 0)

        if request.verify:
            run = await replay_partitioned(database_url, lanes, workers=workers, since=request.since,
                                           until=request.until, horizon=horizon, progress=counted,
                                           explanations=False)
        else:
            run, diff = await what_if_partitioned(database_url, lanes, (names[0], names[1]), workers=workers,
                                                  since=request.since, until=request.until, horizon=horizon,
                                                  progress=counted)
    else:
        run = await replay_log(conn, lanes, since=request.since, until=request.until, horizon=horizon,
                               progress=progress)
    if request.verify:
        defects = verify(run["live"], run.recorded)
    elif diff is None:
        diff = compare(run[names[0]], run[names[1]])
    if diff is not None:
        await with_impact(conn, diff, request, min_group_size)
    return ReplayOutcome(run, diff, defects, time.perf_counter() - started)

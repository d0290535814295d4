"""Rebuilding a read model from the `event_log` copy of the stream, with no downtime.

1. **Copy**: a new schema `rebuild_<model>_<n>` gets empty copies of the model's tables (columns,
   defaults, constraints; the secondary indexes come after the bulk load, under their original
   names). `projectors.bulk` folds the history up to the target in memory with the handlers' pure
   functions and COPYs each final row once. From then on the model's own projector handler
   applies `event_log` batch by batch in stream order: the connection's `search_path` puts the
   new schema first, so the handler's unqualified SQL writes there (it also does the first step
   when COPY cannot: a pool without a binary jsonb codec, or a key the handlers' ON CONFLICT
   would have to settle).
2. **Catch up**: the copy follows the log up to the live projector's checkpoint (never past it),
   again and again while webhooks keep arriving, until the gap is small.
3. **Switch**: one transaction takes EXCLUSIVE locks on the live tables (reads go on; the live
   projector's next write waits), reads the live checkpoint C, applies the last events up to C
   (waiting, outside the lock, if `event_log` is behind C), compares the two copies row for row, and
   if they are equal moves the live tables into `replaced_<model>_<n>` and the new ones into
   `public`. Readers wait for the few milliseconds of the `ALTER ... SET SCHEMA`; nobody gets an
   error. A projector batch that was waiting on the lock is re-planned by PostgreSQL against the new
   tables (a renamed relation invalidates cached plans), so it lands in the new copy.
4. **Drop**: only after that commit, the old tables (`keep_old=True` keeps them for inspection).

If the copies differ, nothing is switched (unless `accept_differences`: the point of a rebuild
after a projector fix is that they differ); the differences are reported and the new schema is
dropped (`keep_failed=True` keeps it).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from contracts import subjects
from contracts.consumers import Delivered
from contracts.event_log import LOG_COLUMNS, log_row_envelope
from projectors import bulk, handlers

Handler = Callable[[asyncpg.Connection, list[Delivered]], Awaitable[object]]
Progress = Callable[[int, int], None]  # (events applied so far, last stream sequence applied)


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    consumer: str  # the live projectors' durable name (its checkpoint is the target)
    tables: tuple[str, ...]  # in the order the handler writes them (lock order)
    event_types: tuple[str, ...]
    handler: Handler
    description: str


MODELS: dict[str, Model] = {
    "schedules": Model(
        handlers.SCHEDULES, handlers.PROJECTOR,
        ("interview_schedules", "interview_events", "interview_event_interviewers"),
        tuple(sorted(handlers.SCHEDULE_EVENT_TYPES)), handlers.project_schedules,
        "interview schedules with their interview events and interviewers"),
    "applications": Model(
        handlers.APPLICATIONS, handlers.PROJECTOR,
        ("applications", "feedback_submissions", "metadata_records", "interview_stages", "feedback_form_fields"),
        tuple(sorted(handlers.ASHBY_EVENT_TYPES)), handlers.project_applications,
        "applications, feedback submissions and Ashby metadata"),
}


@dataclass
class Difference:
    table: str
    only_live: int
    only_new: int
    samples: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.table}: {self.only_live} row(s) only in the live copy, {self.only_new} only in the new one"


@dataclass
class RebuildReport:
    model: str
    schema: str
    events: int = 0
    rows: int = 0
    checkpoint: int = 0
    catch_up_rounds: int = 0
    bulk_load: bool = False  # step 1 by bulk.fold_log + COPY (else by the handler, batch by batch)
    switched: bool = False
    old_schema: str | None = None
    old_dropped: bool = False
    differences: list[Difference] = field(default_factory=list)
    seconds: float = 0.0
    switch_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "schema": self.schema, "events": self.events, "rows": self.rows,
                "checkpoint": self.checkpoint, "catch_up_rounds": self.catch_up_rounds, "bulk_load": self.bulk_load,
                "switched": self.switched,
                "old_schema": self.old_schema, "old_dropped": self.old_dropped,
                "differences": [{"table": d.table, "only_live": d.only_live, "only_new": d.only_new,
                                 "samples": d.samples} for d in self.differences],
                "seconds": round(self.seconds, 3), "switch_seconds": round(self.switch_seconds, 3)}


class RebuildFailed(RuntimeError):
    pass


_COLUMNS = LOG_COLUMNS
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _delivered(row: asyncpg.Record) -> Delivered:
    env = log_row_envelope(row)
    return Delivered(env, row[0], subjects.event_subject(env.source, env.event_type, env.key))


async def live_checkpoint(conn: asyncpg.Connection, model: Model) -> int | None:
    """Where the live projector is; None if it never ran (then the copy follows the whole log)."""
    return await conn.fetchval("SELECT stream_seq FROM consumer_checkpoints WHERE consumer = $1", model.consumer)


async def _log_end(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(max(stream_seq), 0) FROM event_log"))


async def _target(conn: asyncpg.Connection, model: Model) -> int:
    """How far the copy may go: the live projector's checkpoint (never past it), within the log."""
    end = await _log_end(conn)
    live = await live_checkpoint(conn, model)
    return end if live is None else min(live, end)


class _Copier:
    """Applies event_log rows to the new schema with the model's handler (no processed marks are
    needed: event_log holds each event id once, and the handlers' upserts are newest-wins)."""

    def __init__(self, model: Model, schema: str, reader: asyncpg.Connection, writer: asyncpg.Connection,
                 batch_size: int, progress: Progress | None) -> None:
        self.model, self.schema, self.reader, self.writer = model, schema, reader, writer
        self.batch_size, self.progress = batch_size, progress
        self.last = 0
        self.events = 0
        self._sql = bulk.page_sql(_COLUMNS)

    async def copy_until(self, upto: int, *, in_transaction: bool = False) -> int:
        """Apply every relevant event with last < seq <= upto; the next page is read while the
        current one is written. Returns how many events were applied."""
        applied = 0
        async with aclosing(bulk.pages(self.reader, self._sql, self.model.event_types, self.last, upto,
                                       self.batch_size)) as read:
            async for rows in read:
                batch = [_delivered(r) for r in rows]
                if in_transaction:
                    await self.model.handler(self.writer, batch)
                else:
                    async with self.writer.transaction():
                        await self.model.handler(self.writer, batch)
                self.last = rows[-1][0]
                applied += len(rows)
                self.events += len(rows)
                if self.progress is not None:
                    self.progress(self.events, self.last)
        self.last = max(self.last, upto)
        return applied


async def _create_copy(conn: asyncpg.Connection, model: Model, schema: str) -> list[str]:
    """Empty copies of the model's tables in `schema` with their primary keys and unique
    constraints; returns the CREATE INDEX statements of the live tables' other indexes (same names,
    in the new schema), to run after the bulk load."""
    await conn.execute(f"CREATE SCHEMA {schema}")
    for table in model.tables:
        await conn.execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING DEFAULTS "
                           "INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED)")
    rows = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def,
                  c.conname AS constraint_name, c.contype::text AS contype
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
           LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = t.oid
           WHERE n.nspname = 'public' AND t.relname = ANY($1::text[])""", list(model.tables))
    deferred = []
    for r in rows:
        definition = r["def"].replace(" ON public.", f" ON {schema}.", 1)
        if r["constraint_name"]:  # primary key / unique: now, the handlers' ON CONFLICT needs them
            table = definition.split(f" ON {schema}.", 1)[1].split(" ", 1)[0]
            columns = definition[definition.index("(", definition.index(" USING ")):]
            kind = "PRIMARY KEY" if r["contype"] == "p" else "UNIQUE"
            await conn.execute(f"ALTER TABLE {schema}.{table} ADD CONSTRAINT {r['constraint_name']} {kind} {columns}")
        else:
            deferred.append(definition)
    return deferred


async def _rows(conn: asyncpg.Connection, schema: str, tables: tuple[str, ...]) -> int:
    total = 0
    for table in tables:
        total += int(await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}"))
    return total


async def compare_copies(conn: asyncpg.Connection, model: Model, schema: str, *, samples: int = 3) -> list[Difference]:
    """Row-for-row differences between the live tables and the copy in `schema` (EXCEPT ALL both ways)."""
    out = []
    for table in model.tables:
        live, new = f"public.{table}", f"{schema}.{table}"
        only_live = await conn.fetchval(f"SELECT count(*) FROM (SELECT * FROM {live} EXCEPT ALL SELECT * FROM {new}) d")
        only_new = await conn.fetchval(f"SELECT count(*) FROM (SELECT * FROM {new} EXCEPT ALL SELECT * FROM {live}) d")
        if only_live or only_new:
            rows = await conn.fetch(f"(SELECT 'live' AS copy, * FROM (SELECT * FROM {live} EXCEPT ALL "
                                    f"SELECT * FROM {new}) a LIMIT {samples}) UNION ALL (SELECT 'new' AS copy, * "
                                    f"FROM (SELECT * FROM {new} EXCEPT ALL SELECT * FROM {live}) b LIMIT {samples})")
            out.append(Difference(table, int(only_live), int(only_new),
                                  [{k: (v if isinstance(v, str | int | float | bool | None) else str(v))
                                    for k, v in dict(r).items() if k != "raw"} for r in rows]))
    return out


async def _unique_suffix(conn: asyncpg.Connection, model: Model) -> int:
    return int(await conn.fetchval(
        """SELECT coalesce(max(substring(nspname FROM '_([0-9]+)$')::int), 0) + 1 FROM pg_namespace
           WHERE nspname ~ ('^(rebuild|replaced)_' || $1 || '_[0-9]+$')""", model.name))


async def rebuild(pool: asyncpg.Pool, model_name: str, *, batch_size: int = 5000, max_gap: int = 2000,
                  max_rounds: int = 50, lock_timeout_s: float = 5.0, switch_attempts: int = 20,
                  accept_differences: bool = False, keep_old: bool = False, keep_failed: bool = False,
                  progress: Progress | None = None) -> RebuildReport:
    """Build a fresh copy of `model_name` from event_log, catch up with the live projector, check
    parity and switch to it atomically; drop the old copy after the switch. Raises RebuildFailed
    (after cleaning up) when the copies differ or the switch cannot get its locks."""
    model = MODELS.get(model_name)
    if model is None:
        raise ValueError(f"unknown read model {model_name!r}; one of {sorted(MODELS)}")
    started = time.perf_counter()
    async with pool.acquire() as reader, pool.acquire() as writer:
        suffix = await _unique_suffix(writer, model)
        schema, old = f"rebuild_{model.name}_{suffix}", f"replaced_{model.name}_{suffix}"
        assert _IDENT.match(schema) and _IDENT.match(old)
        report = RebuildReport(model.name, schema)
        indexes = await _create_copy(writer, model, schema)
        await writer.execute(f"SET search_path TO {schema}, public")
        copier = _Copier(model, schema, reader, writer, batch_size, progress)
        try:
            # 1-2. bulk copy, then catch up while the live projector keeps going
            report.bulk_load = await _load(writer, copier, await _target(reader, model))
            for statement in indexes:
                await writer.execute(statement)
            await writer.execute(f"ANALYZE {', '.join(f'{schema}.{t}' for t in model.tables)}")
            for _ in range(max_rounds):
                report.catch_up_rounds += 1
                target = await _target(reader, model)
                if target - copier.last <= max_gap:
                    break
                await copier.copy_until(target)
            # 3. switch
            switch_started = time.perf_counter()
            for attempt in range(switch_attempts):
                outcome = await _try_switch(writer, copier, model, schema, old, lock_timeout_s, accept_differences,
                                            report)
                if outcome == "switched":
                    break
                if outcome == "differ":
                    raise RebuildFailed("; ".join(str(d) for d in report.differences))
                # the log is behind the live projector, or the locks were busy: catch up and retry
                await asyncio.sleep(min(0.05 * (attempt + 1), 0.5))
                target = await _target(reader, model)
                await copier.copy_until(target)
            else:
                raise RebuildFailed(f"could not switch after {switch_attempts} attempts (locks busy or "
                                    "event_log behind the live projector)")
            report.switch_seconds = time.perf_counter() - switch_started
        except BaseException:
            await writer.execute("RESET search_path")
            if not keep_failed:
                await writer.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            raise
        await writer.execute("RESET search_path")
        # 4. the old copy goes only now, after the switch committed
        report.old_schema = old
        await writer.execute(f"DROP SCHEMA {schema} CASCADE")  # empty now
        if not keep_old:
            await writer.execute(f"DROP SCHEMA {old} CASCADE")
            report.old_dropped = True
        report.events = copier.events
        report.rows = await _rows(writer, "public", model.tables)
    report.seconds = time.perf_counter() - started
    return report


async def _load(writer: asyncpg.Connection, copier: _Copier, target: int) -> bool:
    """Step 1, into the empty tables: the whole history up to `target` folded in memory and
    COPYed (True), or, when COPY cannot be used or a key repeats where the handlers' ON CONFLICT
    would decide, the handler batch by batch (False); the parity check judges either."""
    model = copier.model
    fold = bulk.FOLDS[model.name]()
    events, _ = await bulk.fold_log(copier.reader, fold, model.event_types, target,
                                    page_size=copier.batch_size, progress=copier.progress)
    try:
        async with writer.transaction():
            await bulk.write(writer, copier.schema, fold)
    except (asyncpg.UniqueViolationError, asyncpg.InternalClientError):
        del fold
        await copier.copy_until(target)
        return False
    copier.last, copier.events = target, events
    return True


async def _try_switch(conn: asyncpg.Connection, copier: _Copier, model: Model, schema: str, old: str,
                      lock_timeout_s: float, accept_differences: bool, report: RebuildReport) -> str:
    """One attempt: 'switched', 'differ' (copies differ, nothing switched) or 'retry'. Anything
    but a switch rolls the whole attempt back (the copier forgets what it applied in it)."""
    last, events = copier.last, copier.events
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{int(lock_timeout_s * 1000)}ms'")
            await conn.execute(f"LOCK TABLE {', '.join(f'public.{t}' for t in model.tables)} IN EXCLUSIVE MODE")
            live = await live_checkpoint(conn, model)
            end = await _log_end(conn)
            if live is not None and end < live:
                raise _Abort("retry")  # event_log has not caught up with the live projector yet
            checkpoint = end if live is None else live
            await copier.copy_until(checkpoint, in_transaction=True)
            report.checkpoint = checkpoint
            report.differences = await compare_copies(conn, model, schema)
            if report.differences and not accept_differences:
                raise _Abort("differ")
            await conn.execute(f"CREATE SCHEMA {old}")
            for table in model.tables:
                await conn.execute(f"ALTER TABLE public.{table} SET SCHEMA {old}")
                await conn.execute(f"ALTER TABLE {schema}.{table} SET SCHEMA public")
    except (_Abort, asyncpg.exceptions.LockNotAvailableError, asyncpg.exceptions.DeadlockDetectedError) as exc:
        copier.last, copier.events = last, events
        return exc.outcome if isinstance(exc, _Abort) else "retry"
    report.switched = True
    return "switched"


class _Abort(Exception):
    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome

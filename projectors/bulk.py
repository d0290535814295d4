"""The first step of a rebuild, done at once: a model's whole history folded in memory into the
rows its empty tables would hold after the per-batch handlers applied every event in stream
order, each final row then written once with COPY.

The folds use the pure functions the handlers use (`to_projection`, `newest_per_schedule`,
`to_rows`) and repeat, in Python, what decides a conflict in `projectors.store`'s upserts (the
WHERE of each ON CONFLICT, the DELETEs before stages and form fields). The rebuild's parity check
compares the result with the live tables, and tests/integration/test_rebuild.py with the
handlers' own result on a history of out-of-order, duplicate and equal-timestamp updates.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from contextlib import aclosing
from typing import Protocol

import asyncpg
import orjson

from contracts.consumers import Delivered
from contracts.event_log import LOG_COLUMN_NAMES, log_row_envelope
from projectors.handlers import ashby_rows, schedule_projections
from projectors.schedules import (
    EventRow,
    InterviewerRow,
    ScheduleProjection,
    ScheduleRow,
    newest_per_schedule,
)

Progress = Callable[[int, int], None]


class Fold(Protocol):
    def feed(self, batch: list[Delivered]) -> None: ...

    def tables(self) -> Iterator[tuple[str, tuple[str, ...], Iterable[tuple]]]:
        """(table, columns, rows) for every table of the model."""
        ...


class SchedulesFold:
    """The newest projection per schedule over the whole history. Equal to the handlers' result:
    `upsert_schedules` replaces a row when the stored `updated_at` is NULL, or the new one is not
    NULL and (updated_at, stream_seq) is not older, which in stream order is exactly
    `newest_per_schedule`'s order; the events and interviewers are those of the winning update
    (the handler deletes a schedule's rows before writing the winner's)."""

    def __init__(self) -> None:
        self.best: dict[str, ScheduleProjection] = {}

    def feed(self, batch: list[Delivered]) -> None:
        best = self.best
        for p in newest_per_schedule(schedule_projections(batch)):
            current = best.get(p.schedule.schedule_id)
            best[p.schedule.schedule_id] = p if current is None else newest_per_schedule([current, p])[0]

    def tables(self) -> Iterator[tuple[str, tuple[str, ...], Iterable[tuple]]]:
        # the row tuples are in column order: their field names are the columns
        chosen = self.best.values()
        yield "interview_schedules", ScheduleRow._fields, (p.schedule for p in chosen)
        yield "interview_events", EventRow._fields, (e for p in chosen for e in p.events)
        yield "interview_event_interviewers", InterviewerRow._fields, (i for p in chosen for i in p.interviewers)


class ApplicationsFold:
    """`to_rows` per page, then each upsert's rule applied in stream order (row tuples in the
    column order of `projectors.store`):

    - applications: replaced when (reported_at, stream_seq) is not older (a NULL never wins);
    - feedback: replaced when the stored submitted_at is NULL, or the new one is not NULL and
      (submitted_at, stream_seq) is not older;
    - metadata: the last one in stream order;
    - stages: a plan's sync deletes the stages stored under that plan id, then upserts its rows by
      stage id (the later wins);
    - form fields: a form's sync deletes the fields stored under its record id, then inserts its
      rows unless (form id, path) is there already (ON CONFLICT DO NOTHING)."""

    def __init__(self) -> None:
        self.applications: dict[str, tuple] = {}
        self.feedback: dict[str, tuple] = {}
        self.metadata: dict[tuple[str, str], tuple] = {}
        self.stages: dict[str, tuple] = {}
        self.stages_of_plan: dict[str, set[str]] = {}
        self.form_fields: dict[str, dict[str, tuple]] = {}

    def feed(self, batch: list[Delivered]) -> None:
        rows = ashby_rows(batch)
        for plan_id, stage_rows, seq in rows.stages:
            for stage_id in self.stages_of_plan.pop(plan_id, ()):
                del self.stages[stage_id]
            for row in stage_rows:
                previous = self.stages.get(row[0])
                if previous is not None:
                    self.stages_of_plan[previous[1]].discard(row[0])
                self.stages[row[0]] = (*row, seq)
                self.stages_of_plan.setdefault(row[1], set()).add(row[0])
        for form_id, field_rows in rows.form_fields:
            self.form_fields.pop(form_id, None)
            for row in field_rows:
                self.form_fields.setdefault(row[0], {}).setdefault(row[1], row)
        apps = self.applications
        for row in rows.applications:
            current = apps.get(row[0])
            if current is None or (row[7] is not None and current[7] is not None and row[7] >= current[7]):
                apps[row[0]] = row
        feedback = self.feedback
        for row in rows.feedback:
            current = feedback.get(row[0])
            if current is None or current[2] is None or (row[2] is not None and row[2] >= current[2]):
                feedback[row[0]] = row
        for row in rows.metadata:
            self.metadata[(row[0], row[1])] = row

    def tables(self) -> Iterator[tuple[str, tuple[str, ...], Iterable[tuple]]]:
        yield ("applications",
               ("application_id", "candidate_id", "job_id", "interview_plan_id", "current_stage_id", "status",
                "hiring_team", "reported_at", "stream_seq"), self.applications.values())
        yield ("feedback_submissions",
               ("feedback_id", "application_id", "submitted_at", "submitted_by_user_id", "interview_id",
                "interview_event_id", "form_definition_id", "submitted_values", "stream_seq"), self.feedback.values())
        yield ("metadata_records", ("kind", "record_id", "data", "stream_seq"), self.metadata.values())
        yield ("interview_stages", ("stage_id", "interview_plan_id", "title", "type", "order_in_plan", "stream_seq"),
               self.stages.values())
        yield ("feedback_form_fields",
               ("form_definition_id", "path", "title", "type", "is_required", "selectable_values"),
               (row for fields in self.form_fields.values() for row in fields.values()))


FOLDS: dict[str, Callable[[], Fold]] = {"schedules": SchedulesFold, "applications": ApplicationsFold}

_LOG_COLUMNS = ", ".join(f"{c}::text" if c == "payload" else c for c in LOG_COLUMN_NAMES)
"""As `contracts.event_log.LOG_COLUMNS`, the payload as text: parsed here, whatever jsonb codec the pool has."""


def _delivered(row: asyncpg.Record) -> Delivered:
    env = log_row_envelope((*row[:10], orjson.loads(row[10])))
    return Delivered(env, row[0], "")  # the subject is not read by the folds


def page_sql(columns: str) -> str:
    """A page of a model's events: $1 < seq <= $2, of the types $3, at most $4, in stream order."""
    return (f"SELECT {columns} FROM event_log WHERE stream_seq > $1 AND stream_seq <= $2 "
            "AND event_type = ANY($3::text[]) ORDER BY stream_seq LIMIT $4")


_PAGE_SQL = page_sql(_LOG_COLUMNS)


async def pages(reader: asyncpg.Connection, sql: str, event_types: Iterable[str], after: int, upto: int,
                page_size: int) -> AsyncGenerator[list[asyncpg.Record], None]:
    """The pages of `sql` (a `page_sql`) after `after` up to `upto`; the next page is read while
    the caller works on the one it has. Close it (`contextlib.aclosing`) to drop the read ahead
    when stopping early."""
    types = list(event_types)

    def fetch(after_seq: int) -> asyncio.Future:
        return asyncio.ensure_future(reader.fetch(sql, after_seq, upto, types, page_size))

    pending = fetch(after)
    try:
        while rows := await pending:
            pending = fetch(rows[-1][0])
            yield rows
    finally:
        await _abandon(pending)


async def _abandon(pending: asyncio.Future) -> None:
    """Cancel a read ahead that is no longer wanted and wait for it to end, whatever it raises."""
    if not pending.done():
        pending.cancel()
        try:
            await pending
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - abandoning the read
            pass


async def fold_log(reader: asyncpg.Connection, fold: Fold, event_types: Iterable[str], upto: int, *,
                   page_size: int = 5000, progress: Progress | None = None) -> tuple[int, int]:
    """Feed every event of `event_types` with seq <= upto to `fold`, in stream order; the next
    page is read while one is folded. Returns (events fed, last seq fed)."""
    events, last = 0, 0
    collecting = gc.isenabled()
    gc.disable()  # the fold only grows and holds no cycles: collections would rescan it (~40% of the time)
    try:
        async with aclosing(pages(reader, _PAGE_SQL, event_types, 0, upto, page_size)) as read:
            async for rows in read:
                fold.feed([_delivered(r) for r in rows])
                events, last = events + len(rows), rows[-1][0]
                if progress is not None:
                    progress(events, last)
    finally:
        if collecting:
            gc.enable()
    return events, last


async def write(writer: asyncpg.Connection, schema: str, fold: Fold) -> int:
    """COPY every final row into the (empty) tables of `schema`; returns the rows written. The
    connection must encode jsonb in binary (COPY is binary): `runtime.db`'s pool does."""
    written = 0
    for table, columns, rows in fold.tables():
        status = await writer.copy_records_to_table(table, records=rows, columns=list(columns), schema_name=schema)
        written += int(status.split()[-1])
    return written

"""SQL of the projectors' own tables: event_log, interview schedules, stats."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import orjson

from contracts.consumers import Delivered
from contracts.event_log import LOG_COLUMN_NAMES, LOG_COLUMNS
from projectors.schedules import ScheduleProjection, children_change


def event_log_rows(batch: list[Delivered]) -> list[tuple]:
    return [(d.stream_seq, e.event_id, e.event_type, e.schema_version, e.key, e.source, e.occurred_at, e.recorded_at,
             e.correlation_id, e.causation_id, e.payload) for d in batch for e in (d.envelope,)]


async def insert_event_log(conn: asyncpg.Connection, batch: list[Delivered],
                           rows: list[tuple] | None = None) -> list[Delivered]:
    """Append events (`rows`: their `event_log_rows`); the unique event id makes a re-delivered
    event a no-op. Returns the events added (in batch order): the ones never seen before.

    First as one COPY (about 1.6 times the rate of INSERT ... ON CONFLICT here) in a savepoint;
    if any event is there already the COPY fails as a whole, and the batch goes row by row."""
    rows = rows if rows is not None else event_log_rows(batch)
    try:
        async with conn.transaction():
            await conn.copy_records_to_table("event_log", records=rows, columns=LOG_COLUMN_NAMES)
        return batch
    except asyncpg.UniqueViolationError:
        pass
    added = await conn.fetch(
        f"""INSERT INTO event_log ({LOG_COLUMNS})
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                                $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::jsonb[])
           ON CONFLICT DO NOTHING RETURNING stream_seq""",
        *(list(column) for column in zip(*rows, strict=True)),
    )
    if len(added) == len(batch):
        return batch
    seqs = {r[0] for r in added}
    return [d for d in batch if d.stream_seq in seqs]


def _json_rows(rows: Iterable[tuple]) -> str:
    """Rows as one JSON array of arrays, unpacked in SQL with `jsonb_array_elements`: measured
    here, a quarter of the Python time of one array parameter per column (asyncpg checks and
    encodes every element), and less Postgres time too."""
    return orjson.dumps([tuple(r) for r in rows]).decode()


async def upsert_schedules(conn: asyncpg.Connection, projections: list[ScheduleProjection]) -> list[str]:
    """Upsert schedules unless the stored one is newer; returns the ids actually written."""
    if not projections:
        return []
    rows = await conn.fetch(
        """INSERT INTO interview_schedules AS cur (schedule_id, application_id, interview_stage_id, candidate_id,
                                                  status, updated_at, source_event_id, stream_seq)
           SELECT r->>0, r->>1, r->>2, r->>3, r->>4, (r->>5)::timestamptz, r->>6, (r->>7)::bigint
           FROM jsonb_array_elements($1::text::jsonb) r
           ON CONFLICT (schedule_id) DO UPDATE SET
               application_id = EXCLUDED.application_id, interview_stage_id = EXCLUDED.interview_stage_id,
               candidate_id = EXCLUDED.candidate_id, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
               source_event_id = EXCLUDED.source_event_id, stream_seq = EXCLUDED.stream_seq
           WHERE cur.updated_at IS NULL
              OR (EXCLUDED.updated_at IS NOT NULL AND (EXCLUDED.updated_at, EXCLUDED.stream_seq) >= (cur.updated_at, cur.stream_seq))
           RETURNING schedule_id""",
        _json_rows(p.schedule for p in projections),
    )
    written = [r["schedule_id"] for r in rows]
    if not written:
        return written
    kept = set(written)
    chosen = [p for p in projections if p.schedule.schedule_id in kept]
    # Each written schedule's events and interviewers become exactly the listed ones. Most
    # updates only change a status, so the stored rows are read first and only the difference is
    # written. The reads find rows by schedule id; on tables that grew since Postgres last sampled
    # them, the planner reads them whole instead (measured: 4 to 10 ms a batch at 100k events,
    # growing with the table). Every statement of this transaction has an index to use, so scans
    # are ruled out for it.
    await conn.execute("SET LOCAL enable_seqscan = off")
    stored_events = await conn.fetch(
        """SELECT interview_event_id, schedule_id, application_id, interview_id, start_time, end_time
           FROM interview_events WHERE schedule_id = ANY($1::text[])""", written)
    stored_people = await conn.fetch(
        """SELECT interview_event_id, user_id, schedule_id, is_feedback_required
           FROM interview_event_interviewers WHERE schedule_id = ANY($1::text[])""", written)
    change = children_change(chosen, [tuple(r) for r in stored_events], [tuple(r) for r in stored_people])
    if change.gone_events:
        await conn.execute("DELETE FROM interview_events WHERE interview_event_id = ANY($1::text[])",
                           change.gone_events)
    if change.gone_people:
        await conn.execute(
            """DELETE FROM interview_event_interviewers
               WHERE (interview_event_id, user_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
            [k[0] for k in change.gone_people], [k[1] for k in change.gone_people])
    events, people = change.events, change.people  # new or changed only; ON CONFLICT moves an event
    if events:
        await conn.execute(
            """INSERT INTO interview_events (interview_event_id, schedule_id, application_id, interview_id,
                                             start_time, end_time)
               SELECT r->>0, r->>1, r->>2, r->>3, (r->>4)::timestamptz, (r->>5)::timestamptz
               FROM jsonb_array_elements($1::text::jsonb) r
               ON CONFLICT (interview_event_id) DO UPDATE SET schedule_id = EXCLUDED.schedule_id,
                   application_id = EXCLUDED.application_id, interview_id = EXCLUDED.interview_id,
                   start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time""",
            _json_rows(events),
        )
    if people:
        await conn.execute(
            """INSERT INTO interview_event_interviewers (interview_event_id, user_id, schedule_id, is_feedback_required)
               SELECT r->>0, r->>1, r->>2, (r->>3)::boolean FROM jsonb_array_elements($1::text::jsonb) r
               ON CONFLICT (interview_event_id, user_id) DO UPDATE
               SET schedule_id = EXCLUDED.schedule_id, is_feedback_required = EXCLUDED.is_feedback_required""",
            _json_rows(people),
        )
    return written


async def count_applied(conn: asyncpg.Connection, applied: dict[str, int]) -> None:
    """Add to each model's count of events applied (tests prove with it that none was applied twice)."""
    await conn.execute(
        """INSERT INTO projection_stats (consumer, applied) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (consumer) DO UPDATE SET applied = projection_stats.applied + EXCLUDED.applied""",
        list(applied), list(applied.values()),
    )


async def upsert_applications(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """rows: (application_id, candidate_id, job_id, plan_id, stage_id, status, hiring_team, reported_at, seq)."""
    if rows:
        await conn.executemany(
            """INSERT INTO applications AS cur (application_id, candidate_id, job_id, interview_plan_id,
                   current_stage_id, status, hiring_team, reported_at, stream_seq)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (application_id) DO UPDATE SET candidate_id = EXCLUDED.candidate_id,
                   job_id = EXCLUDED.job_id, interview_plan_id = EXCLUDED.interview_plan_id,
                   current_stage_id = EXCLUDED.current_stage_id, status = EXCLUDED.status,
                   hiring_team = EXCLUDED.hiring_team, reported_at = EXCLUDED.reported_at,
                   stream_seq = EXCLUDED.stream_seq
               WHERE (EXCLUDED.reported_at, EXCLUDED.stream_seq) >= (cur.reported_at, cur.stream_seq)""",
            rows)


async def upsert_feedback(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """rows: (feedback_id, app, submitted_at, by, interview, interview_event, form, values, seq)."""
    if rows:
        await conn.executemany(
            """INSERT INTO feedback_submissions AS cur (feedback_id, application_id, submitted_at,
                   submitted_by_user_id, interview_id, interview_event_id, form_definition_id, submitted_values,
                   stream_seq)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (feedback_id) DO UPDATE SET application_id = EXCLUDED.application_id,
                   submitted_at = EXCLUDED.submitted_at, submitted_by_user_id = EXCLUDED.submitted_by_user_id,
                   interview_id = EXCLUDED.interview_id, interview_event_id = EXCLUDED.interview_event_id,
                   form_definition_id = EXCLUDED.form_definition_id, submitted_values = EXCLUDED.submitted_values,
                   stream_seq = EXCLUDED.stream_seq
               WHERE cur.submitted_at IS NULL OR (EXCLUDED.submitted_at IS NOT NULL
                     AND (EXCLUDED.submitted_at, EXCLUDED.stream_seq) >= (cur.submitted_at, cur.stream_seq))""",
            rows)


async def upsert_metadata(conn: asyncpg.Connection, rows: list[tuple[str, str, dict, int]]) -> None:
    if rows:
        await conn.executemany(
            """INSERT INTO metadata_records AS cur (kind, record_id, data, stream_seq) VALUES ($1, $2, $3, $4)
               ON CONFLICT (kind, record_id) DO UPDATE SET data = EXCLUDED.data, stream_seq = EXCLUDED.stream_seq
               WHERE EXCLUDED.stream_seq >= cur.stream_seq""", rows)


async def replace_stages(conn: asyncpg.Connection, plan_id: str, rows: list[tuple], seq: int) -> None:
    await conn.execute("DELETE FROM interview_stages WHERE interview_plan_id = $1 AND stream_seq <= $2", plan_id, seq)
    if rows:
        await conn.executemany(
            """INSERT INTO interview_stages (stage_id, interview_plan_id, title, type, order_in_plan, stream_seq)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (stage_id) DO UPDATE SET interview_plan_id = EXCLUDED.interview_plan_id,
                   title = EXCLUDED.title, type = EXCLUDED.type, order_in_plan = EXCLUDED.order_in_plan,
                   stream_seq = EXCLUDED.stream_seq WHERE EXCLUDED.stream_seq >= interview_stages.stream_seq""",
            [(*r, seq) for r in rows])


async def replace_form_fields(conn: asyncpg.Connection, form_id: str, rows: list[tuple]) -> None:
    await conn.execute("DELETE FROM feedback_form_fields WHERE form_definition_id = $1", form_id)
    if rows:
        await conn.executemany(
            """INSERT INTO feedback_form_fields (form_definition_id, path, title, type, is_required, selectable_values)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""", rows)

"""SQL of the projectors' own tables: event_log, interview schedules, stats."""

from __future__ import annotations

import asyncpg

from contracts.consumers import Delivered
from projectors.schedules import ScheduleProjection


async def insert_event_log(conn: asyncpg.Connection, batch: list[Delivered]) -> int:
    """Append events; the unique event id makes a re-delivered event a no-op. Returns rows added."""
    cols: list[list] = [[] for _ in range(11)]
    for d in batch:
        e = d.envelope
        for i, v in enumerate((d.stream_seq, e.event_id, e.event_type, e.schema_version, e.key, e.source,
                               e.occurred_at, e.recorded_at, e.correlation_id, e.causation_id, e.payload)):
            cols[i].append(v)
    rows = await conn.fetch(
        """INSERT INTO event_log (stream_seq, event_id, event_type, schema_version, key, source, occurred_at,
                                  recorded_at, correlation_id, causation_id, payload)
           SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                                $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[], $11::jsonb[])
           ON CONFLICT DO NOTHING RETURNING stream_seq""",
        *cols,
    )
    return len(rows)


async def upsert_schedules(conn: asyncpg.Connection, projections: list[ScheduleProjection]) -> list[str]:
    """Upsert schedules unless the stored one is newer; returns the ids actually written."""
    if not projections:
        return []
    s = [p.schedule for p in projections]
    rows = await conn.fetch(
        """INSERT INTO interview_schedules AS cur (schedule_id, application_id, interview_stage_id, candidate_id,
                                                  status, updated_at, source_event_id, stream_seq, raw)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                                $7::text[], $8::bigint[], $9::jsonb[])
           ON CONFLICT (schedule_id) DO UPDATE SET
               application_id = EXCLUDED.application_id, interview_stage_id = EXCLUDED.interview_stage_id,
               candidate_id = EXCLUDED.candidate_id, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
               source_event_id = EXCLUDED.source_event_id, stream_seq = EXCLUDED.stream_seq, raw = EXCLUDED.raw
           WHERE cur.updated_at IS NULL
              OR (EXCLUDED.updated_at IS NOT NULL AND (EXCLUDED.updated_at, EXCLUDED.stream_seq) >= (cur.updated_at, cur.stream_seq))
           RETURNING schedule_id""",
        [r.schedule_id for r in s], [r.application_id for r in s], [r.interview_stage_id for r in s],
        [r.candidate_id for r in s], [r.status for r in s], [r.updated_at for r in s],
        [r.source_event_id for r in s], [r.stream_seq for r in s], [r.raw for r in s],
    )
    written = [r["schedule_id"] for r in rows]
    if not written:
        return written
    chosen = {p.schedule.schedule_id: p for p in projections if p.schedule.schedule_id in set(written)}
    await conn.execute("DELETE FROM interview_events WHERE schedule_id = ANY($1::text[])", written)
    await conn.execute("DELETE FROM interview_event_interviewers WHERE schedule_id = ANY($1::text[])", written)
    events = [e for p in chosen.values() for e in p.events]
    if events:
        await conn.execute(
            """INSERT INTO interview_events (interview_event_id, schedule_id, application_id, interview_id,
                                             start_time, end_time, raw)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                                    $6::timestamptz[], $7::jsonb[])
               ON CONFLICT (interview_event_id) DO UPDATE SET schedule_id = EXCLUDED.schedule_id,
                   application_id = EXCLUDED.application_id, interview_id = EXCLUDED.interview_id,
                   start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time, raw = EXCLUDED.raw""",
            [e.interview_event_id for e in events], [e.schedule_id for e in events],
            [e.application_id for e in events], [e.interview_id for e in events],
            [e.start_time for e in events], [e.end_time for e in events], [e.raw for e in events],
        )
    people = [i for p in chosen.values() for i in p.interviewers]
    if people:
        await conn.execute(
            """INSERT INTO interview_event_interviewers (interview_event_id, user_id, schedule_id, is_feedback_required)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])
               ON CONFLICT (interview_event_id, user_id) DO UPDATE
               SET schedule_id = EXCLUDED.schedule_id, is_feedback_required = EXCLUDED.is_feedback_required""",
            [i.interview_event_id for i in people], [i.user_id for i in people],
            [i.schedule_id for i in people], [i.is_feedback_required for i in people],
        )
    return written


async def count_applied(conn: asyncpg.Connection, consumer: str, n: int) -> None:
    await conn.execute(
        """INSERT INTO projection_stats (consumer, applied) VALUES ($1, $2)
           ON CONFLICT (consumer) DO UPDATE SET applied = projection_stats.applied + EXCLUDED.applied""",
        consumer, n,
    )

"""Read-model queries behind the API (this component's own tables only)."""

from __future__ import annotations

from typing import Any

import asyncpg


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def application_view(conn: asyncpg.Connection, application_id: str) -> dict[str, Any] | None:
    schedules = await conn.fetch(
        """SELECT schedule_id, interview_stage_id, candidate_id, status, updated_at, stream_seq
           FROM interview_schedules WHERE application_id = $1 ORDER BY updated_at NULLS FIRST, schedule_id""",
        application_id,
    )
    events = await conn.fetch(
        """SELECT e.interview_event_id, e.schedule_id, e.interview_id, e.start_time, e.end_time,
                  coalesce(array_agg(i.user_id ORDER BY i.user_id) FILTER (WHERE i.user_id IS NOT NULL), '{}') AS interviewers,
                  coalesce(array_agg(i.user_id ORDER BY i.user_id) FILTER (WHERE i.is_feedback_required), '{}') AS required
           FROM interview_events e LEFT JOIN interview_event_interviewers i USING (interview_event_id)
           WHERE e.application_id = $1 GROUP BY e.interview_event_id ORDER BY e.start_time NULLS LAST""",
        application_id,
    )
    n_events = await conn.fetchval("SELECT count(*) FROM event_log WHERE key = $1", application_id)
    if not schedules and not n_events:
        return None
    by_schedule: dict[str, list[dict]] = {}
    for e in events:
        by_schedule.setdefault(e["schedule_id"], []).append({
            "interview_event_id": e["interview_event_id"], "interview_id": e["interview_id"],
            "start_time": _iso(e["start_time"]), "end_time": _iso(e["end_time"]),
            "interviewer_ids": list(e["interviewers"]), "feedback_required_from": list(e["required"]),
        })
    latest_stage = schedules[-1]["interview_stage_id"] if schedules else None
    return {
        "application_id": application_id,
        "current_stage_id": latest_stage,
        "schedules": [
            {"schedule_id": s["schedule_id"], "interview_stage_id": s["interview_stage_id"], "status": s["status"],
             "updated_at": _iso(s["updated_at"]), "events": by_schedule.get(s["schedule_id"], [])}
            for s in schedules
        ],
        "event_count": n_events,
    }


async def events_for_key(conn: asyncpg.Connection, key: str, *, after_seq: int = 0, limit: int = 500) -> list[dict]:
    rows = await conn.fetch(
        """SELECT stream_seq, event_id, event_type, schema_version, key, source, occurred_at, recorded_at,
                  correlation_id, causation_id, payload
           FROM event_log WHERE key = $1 AND stream_seq > $2 ORDER BY stream_seq LIMIT $3""",
        key, after_seq, limit,
    )
    return [{k: _iso(v) for k, v in dict(r).items()} for r in rows]

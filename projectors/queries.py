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
    app = await conn.fetchrow("SELECT * FROM applications WHERE application_id = $1", application_id)
    if not schedules and not n_events and app is None:
        return None
    feedback = await conn.fetch(
        """SELECT feedback_id, submitted_at, submitted_by_user_id, interview_id, interview_event_id,
                  form_definition_id, submitted_values
           FROM feedback_submissions WHERE application_id = $1 ORDER BY submitted_at NULLS LAST, feedback_id""",
        application_id)
    by_schedule: dict[str, list[dict]] = {}
    for e in events:
        by_schedule.setdefault(e["schedule_id"], []).append({
            "interview_event_id": e["interview_event_id"], "interview_id": e["interview_id"],
            "start_time": _iso(e["start_time"]), "end_time": _iso(e["end_time"]),
            "interviewer_ids": list(e["interviewers"]), "feedback_required_from": list(e["required"]),
        })
    commands = await conn.fetch(
        """SELECT stream_seq, event_type, recorded_at, payload FROM event_log
           WHERE key = $1 AND event_type LIKE 'Command%' ORDER BY stream_seq""", application_id)
    nudges = await conn.fetch(  # feedback nudges and escalations (issue 21): what Slack accepted
        """SELECT event_type, payload FROM event_log
           WHERE key = $1 AND event_type IN ('FeedbackNudgeSent', 'FeedbackEscalated') ORDER BY stream_seq""",
        application_id)
    latest_stage = schedules[-1]["interview_stage_id"] if schedules else None
    return {
        "application_id": application_id,
        "current_stage_id": app["current_stage_id"] if app else latest_stage,
        "job_id": app["job_id"] if app else None,
        "candidate_id": app["candidate_id"] if app else (schedules[-1]["candidate_id"] if schedules else None),
        "interview_plan_id": app["interview_plan_id"] if app else None,
        "status": app["status"] if app else None,
        "feedback": [{k: _iso(v) for k, v in dict(f).items()} for f in feedback],
        "schedules": [
            {"schedule_id": s["schedule_id"], "interview_stage_id": s["interview_stage_id"], "status": s["status"],
             "updated_at": _iso(s["updated_at"]), "events": by_schedule.get(s["schedule_id"], [])}
            for s in schedules
        ],
        "event_count": n_events,
        "commands": _command_stories(commands),
        "nudges": [{"event_type": n["event_type"], **{k: v for k, v in n["payload"].items()
                                                     if k not in ("channel", "channels", "ts", "slack_user_id")}}
                   for n in nudges],
    }


def _command_stories(rows: list) -> list[dict[str, Any]]:
    """Each command's attempts, lost answers, reconciliations and outcome, in log order."""
    stories: dict[str, dict[str, Any]] = {}
    for r in rows:
        p = r["payload"]
        story = stories.setdefault(p["command_id"], {"command_id": p["command_id"],
                                                     "command_type": p.get("command_type"), "events": []})
        story["events"].append({"event_type": r["event_type"], "recorded_at": _iso(r["recorded_at"]),
                                **{k: p[k] for k in ("attempt", "replica", "verdict", "reason", "reconcile_first")
                                   if p.get(k) is not None}})
    return list(stories.values())


async def events_for_key(conn: asyncpg.Connection, key: str, *, after_seq: int = 0, limit: int = 500) -> list[dict]:
    """The entity's events in log order; for an application, with the events of the applications
    merged into it (a candidate merge in Ashby), so its story follows the surviving id."""
    rows = await conn.fetch(
        """SELECT stream_seq, event_id, event_type, schema_version, key, source, occurred_at, recorded_at,
                  correlation_id, causation_id, payload
           FROM event_log WHERE key = ANY($1::text[]) AND stream_seq > $2 ORDER BY stream_seq LIMIT $3""",
        [key, *await merged_from(conn, key)], after_seq, limit,
    )
    return [{k: _iso(v) for k, v in dict(r).items()} for r in rows]


async def merged_from(conn: asyncpg.Connection, application_id: str) -> list[str]:
    """Applications that were merged away into this one (index `event_log_merged_into`)."""
    rows = await conn.fetch(
        """SELECT DISTINCT payload->>'application_id' AS app FROM event_log
           WHERE event_type = 'ApplicationMerged' AND payload->>'surviving_application_id' = $1
             AND payload->>'application_id' <> $1""", application_id)
    return sorted(r["app"] for r in rows)


async def merged_into(conn: asyncpg.Connection, application_id: str) -> str | None:
    """The application that continues this one after a candidate merge, if it was merged away."""
    return await conn.fetchval(
        """SELECT payload->>'surviving_application_id' FROM event_log
           WHERE event_type = 'ApplicationMerged' AND key = $1
             AND payload->>'surviving_application_id' IS DISTINCT FROM $1
           ORDER BY stream_seq DESC LIMIT 1""", application_id)


METADATA_KINDS = {"jobs": "job", "interview-plans": "interview_plan", "feedback-forms": "feedback_form",
                  "interviews": "interview", "users": "user", "archive-reasons": "archive_reason"}


async def metadata_list(conn: asyncpg.Connection, kind: str) -> list[dict]:
    """What a rule builder picks from; users are reduced to ids and roles (no personal data)."""
    rows = await conn.fetch("SELECT record_id, data FROM metadata_records WHERE kind = $1 ORDER BY record_id", kind)
    out = []
    for r in rows:
        data = r["data"]
        if kind == "user":
            data = {"id": data.get("id"), "globalRole": data.get("globalRole"), "isEnabled": data.get("isEnabled")}
        elif kind == "interview_plan":
            data = {k: v for k, v in data.items() if k != "stages"}
        out.append(data)
    return out


async def plan_stages(conn: asyncpg.Connection, plan_id: str | None) -> list[dict]:
    rows = await conn.fetch(
        """SELECT stage_id, interview_plan_id, title, type, order_in_plan FROM interview_stages
           WHERE $1::text IS NULL OR interview_plan_id = $1 ORDER BY interview_plan_id, order_in_plan""", plan_id)
    return [dict(r) for r in rows]


async def form_fields(conn: asyncpg.Connection, form_id: str | None) -> list[dict]:
    rows = await conn.fetch(
        """SELECT form_definition_id, path, title, type, is_required, selectable_values FROM feedback_form_fields
           WHERE $1::text IS NULL OR form_definition_id = $1 ORDER BY form_definition_id, path""", form_id)
    return [dict(r) for r in rows]


async def stage_titles(conn: asyncpg.Connection, stage_ids: list[str]) -> dict[str, str]:
    """Each stage's title in Ashby, from the interview-plan read model; stages never synced (or
    untitled) are left out, so a caller shows their id."""
    if not stage_ids:
        return {}
    rows = await conn.fetch("SELECT stage_id, title FROM interview_stages WHERE stage_id = ANY($1::text[]) "
                            "AND title IS NOT NULL", list(set(stage_ids)))
    return {r["stage_id"]: r["title"] for r in rows}

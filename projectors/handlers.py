"""One short function per consumer: called inside the runtime's transaction with fresh events only."""

from __future__ import annotations

import asyncpg
import structlog

from contracts.consumers import Delivered
from contracts.envelope import parse_time
from projectors import store
from projectors.ashby import KIND_OF, form_field_rows, stage_rows
from projectors.schedules import newest_per_schedule, to_projection

log = structlog.get_logger(__name__)

EVENT_LOG = "projectors-event_log-v1"
SCHEDULES = "projectors-schedules-v1"
ASHBY = "projectors-ashby-v1"


async def project_event_log(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    added = await store.insert_event_log(conn, batch)
    await store.count_applied(conn, EVENT_LOG, added)


async def project_schedules(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    projections = [p for p in (to_projection(d) for d in batch) if p is not None]
    await store.upsert_schedules(conn, newest_per_schedule(projections))
    await store.count_applied(conn, SCHEDULES, len(projections))


ASHBY_EVENT_TYPES = ("ApplicationSnapshotted", "FeedbackSubmitted", *sorted(KIND_OF))
"""What `project_ashby` applies; its consumer is filtered to these (webhook events are not its business)."""


async def project_ashby(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    """Applications, feedback and metadata from polled Ashby facts (newest report wins)."""
    apps, feedback, metadata = [], [], []
    applied = 0
    for d in batch:
        e, p = d.envelope, d.envelope.payload
        if e.event_type == "ApplicationSnapshotted":
            apps.append((p["application_id"], p.get("candidate_id"), p.get("job_id"), p.get("interview_plan_id"),
                         p.get("current_stage_id"), p.get("status"), p.get("hiring_team") or [],
                         e.occurred_at, d.stream_seq))
        elif e.event_type == "FeedbackSubmitted":
            feedback.append((p["feedback_id"], p["application_id"], parse_time(p.get("submitted_at")),
                             p.get("submitted_by_user_id"), p.get("interview_id"), p.get("interview_event_id"),
                             p.get("form_definition_id"), p.get("submitted_values") or {}, d.stream_seq))
        elif e.event_type in KIND_OF:
            kind, data = KIND_OF[e.event_type], p.get("data") or {}
            metadata.append((kind, p["record_id"], data, d.stream_seq))
            if kind == "interview_plan":
                await store.replace_stages(conn, p["record_id"], stage_rows(data), d.stream_seq)
            elif kind == "feedback_form":
                await store.replace_form_fields(conn, p["record_id"], form_field_rows(data))
        else:
            continue
        applied += 1
    await store.upsert_applications(conn, apps)
    await store.upsert_feedback(conn, feedback)
    await store.upsert_metadata(conn, metadata)
    await store.count_applied(conn, ASHBY, applied)

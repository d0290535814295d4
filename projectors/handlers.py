"""The projectors' one consumer: every event is copied into `event_log`, and the events that copy
sees for the first time are applied to each read model, all in the runtime's one transaction.

`event_log` is unique per event id, so its insert doubles as the processed mark: a re-delivered
event (or one Ashby re-sent under the same id) adds no row and reaches no model again. One durable
instead of one per model halves what NATS delivers and what we parse per event. The rows are
worked out (`plan`, pure) while the previous batch's transaction is still running.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from contracts.consumers import Delivered
from projectors import store
from projectors.ashby import KIND_OF, AshbyRows, to_rows
from projectors.schedules import ScheduleProjection, newest_per_schedule, to_projection

PROJECTOR = "projectors-all-v1"
"""The durable consumer (and checkpoint) of every projector model."""

EVENT_LOG = "event_log"
SCHEDULES = "schedules"
APPLICATIONS = "applications"
"""The models, as named in `projection_stats` and by `autoadvance rebuild`."""

SCHEDULE_EVENT_TYPES = frozenset({"InterviewScheduleUpdated"})
ASHBY_EVENT_TYPES = frozenset({"ApplicationSnapshotted", "FeedbackSubmitted", *KIND_OF})
"""What the applications model applies: polled Ashby facts (webhook events are not its business)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one batch writes, worked out before its transaction."""

    seqs: list[int]
    log_rows: list[tuple]
    schedules: list[ScheduleProjection]  # the newest per schedule
    schedule_events: int
    ashby: AshbyRows


def plan(batch: list[Delivered]) -> Plan:
    projections = schedule_projections(batch)
    return Plan([d.stream_seq for d in batch], store.event_log_rows(batch), newest_per_schedule(projections),
                len(projections), ashby_rows(batch))


def schedule_projections(batch: list[Delivered]) -> list[ScheduleProjection]:
    """The schedules model's rows for each of its events in the batch (before newest-wins)."""
    return [p for d in batch
            if d.envelope.event_type in SCHEDULE_EVENT_TYPES and (p := to_projection(d)) is not None]


def ashby_rows(batch: list[Delivered]) -> AshbyRows:
    """The applications model's rows for its events in the batch."""
    return to_rows([d for d in batch if d.envelope.event_type in ASHBY_EVENT_TYPES])


async def project(conn: asyncpg.Connection, batch: list[Delivered], planned: Plan | None = None) -> None:
    if planned is None or planned.seqs != [d.stream_seq for d in batch]:
        planned = plan(batch)
    fresh = await store.insert_event_log(conn, batch, planned.log_rows)
    if len(fresh) != len(batch):  # some were here before: only the new ones reach the models
        planned = plan(fresh)
    await store.upsert_schedules(conn, planned.schedules)
    await write_applications(conn, planned.ashby)
    await store.count_applied(conn, {EVENT_LOG: len(fresh), SCHEDULES: planned.schedule_events,
                                     APPLICATIONS: planned.ashby.applied})


async def project_schedules(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    """The schedules model alone (rebuild)."""
    await store.upsert_schedules(conn, newest_per_schedule(schedule_projections(batch)))


async def project_applications(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
    """The applications model alone (rebuild)."""
    await write_applications(conn, ashby_rows(batch))


async def write_applications(conn: asyncpg.Connection, rows: AshbyRows) -> None:
    for plan_id, stages, seq in rows.stages:
        await store.replace_stages(conn, plan_id, stages, seq)
    for form_id, fields in rows.form_fields:
        await store.replace_form_fields(conn, form_id, fields)
    await store.upsert_applications(conn, rows.applications)
    await store.upsert_feedback(conn, rows.feedback)
    await store.upsert_metadata(conn, rows.metadata)

"""The Ashby pollers (worker role `poller`): metadata, the feedback sync pass, and per-application checks.

The sync pass (one request when nothing changed) carries feedback latency; per-application checks
are snapshots a webhook asked for and targeted, decaying feedback checks (see `polling`). Network
calls happen between short transactions; every event has a deterministic id, so a poller killed at
any point and restarted re-publishes at most what JetStream then drops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
import structlog

from contracts.envelope import Envelope
from contracts.errors import PermanentError, TransientError
from ingest import store
from ingest.ashby_budget import Priority, using_priority
from ingest.ashby_client import AshbyError
from ingest.ashby_events import (
    application_envelope,
    content_hash,
    feedback_envelope,
    metadata_envelope,
    submitters,
)
from ingest.merges import is_gone, merged_applications
from ingest.polling import Decay, after_feedback_poll, after_snapshot, feedback_check_due, merge_after_poll

log = structlog.get_logger(__name__)

FEEDBACK_CURSOR = "applicationFeedback.list"
_METADATA_ENDPOINTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("job", "job.list", {}),
    ("feedback_form", "feedbackFormDefinition.list", {}),
    ("interview", "interview.list", {}),
    ("user", "user.list", {}),
    ("archive_reason", "archiveReason.list", {}),
)


class AshbyReader(Protocol):
    def paginate(self, endpoint: str, body: dict[str, Any], *, page_size: int = 100) -> Any: ...
    async def sync(self, endpoint: str, body: dict[str, Any], sync_token: str | None) -> Any: ...
    async def call(self, endpoint: str, body: dict[str, Any]) -> Any: ...


class EventSink(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...


class AshbyPoller:
    def __init__(self, api: AshbyReader, sink: EventSink, pool: asyncpg.Pool, *, feedback_interval_s: float,
                 decay: Decay, metadata_interval_s: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.api, self.sink, self.pool, self.clock = api, sink, pool, clock
        self.feedback_interval_s = feedback_interval_s
        self.decay = decay
        self.metadata_interval_s = metadata_interval_s
        self.metadata_wanted = asyncio.Event()  # an application in a plan we have not synced yet

    async def _all(self, endpoint: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        async for page in self.api.paginate(endpoint, body):
            items.extend(page)
        return items

    async def _publish_all(self, envelopes: list[Envelope]) -> None:
        for batch_start in range(0, len(envelopes), 256):
            await asyncio.gather(*(self.sink.publish_event(e) for e in envelopes[batch_start:batch_start + 256]))

    # --- metadata ---------------------------------------------------------------------------

    async def sync_metadata_once(self) -> int:
        """Publish every metadata record whose content changed since it was last published."""
        with using_priority(Priority.METADATA):
            return await self._sync_metadata()

    async def _sync_metadata(self) -> int:
        now = self.clock()
        published = 0
        records: list[tuple[str, dict[str, Any]]] = []
        for kind, endpoint, body in _METADATA_ENDPOINTS:
            records.extend((kind, r) for r in await self._all(endpoint, body))
        for plan in await self._all("interviewPlan.list", {"includeArchived": True}):
            stages = await self._all("interviewStage.list", {"interviewPlanId": plan["id"]})
            records.append(("interview_plan", {**plan, "stages": stages}))
        by_kind: dict[str, dict[str, dict[str, Any]]] = {}
        for kind, record in records:
            if record.get("id"):
                by_kind.setdefault(kind, {})[str(record["id"])] = record
        for kind, items in by_kind.items():
            hashes = {rid: content_hash(rec) for rid, rec in items.items()}
            async with self.pool.acquire() as conn:
                changed = await store.changed_records(conn, kind, hashes)
            envelopes = [metadata_envelope(kind, items[rid], now) for rid in sorted(changed)]
            await self._publish_all(envelopes)
            async with self.pool.acquire() as conn:
                await store.remember_records(conn, kind, {rid: hashes[rid] for rid in changed})
            published += len(envelopes)
        log.info("metadata_synced", published=published, records=len(records))
        return published

    # --- feedback, incremental ---------------------------------------------------------------

    async def sync_feedback_once(self) -> int:
        """One incremental pass; the new sync token is stored only after every event was stored."""
        async with self.pool.acquire() as conn:
            token = await store.get_cursor(conn, FEEDBACK_CURSOR)
        with using_priority(Priority.POLL):
            result = await self.api.sync("applicationFeedback.list", {}, token)
        now = self.clock()
        envelopes = [feedback_envelope(item, now) for item in result.items if item.get("applicationId")]
        await self._publish_all(envelopes)
        async with self.pool.acquire() as conn:
            await store.set_cursor(conn, FEEDBACK_CURSOR, result.sync_token)
        # every 2 s: a pass that found nothing is not worth a line at INFO
        (log.info if envelopes or result.full else log.debug)("feedback_synced", events=len(envelopes),
                                                              full=bool(result.full))
        return len(envelopes)

    # --- per-application watches -------------------------------------------------------------

    async def poll_due_once(self, limit: int = 32) -> int:
        now = self.clock()
        async with self.pool.acquire() as conn:
            due = await store.claim_due(conn, now, now + timedelta(seconds=60), limit)
        with using_priority(Priority.POLL):  # a snapshot a webhook asked for raises its own to PROMPT
            results = await asyncio.gather(*(self._poll_application(app) for app in due), return_exceptions=True)
        for app, result in zip(due, results, strict=True):
            if isinstance(result, Exception):
                log.warning("application_poll_failed", key=app, error=f"{type(result).__name__}: {result}"[:200])
                async with self.pool.acquire() as conn:  # retry soon, not after the lease
                    await conn.execute("UPDATE poll_watch SET next_poll_at = $2 WHERE application_id = $1", app,
                                       self.clock() + self.decay.first * (10 if isinstance(result, PermanentError) else 1))
        return len(due)

    async def _poll_application(self, application_id: str) -> None:
        async with self.pool.acquire() as conn:
            watch = await store.load_watch(conn, application_id)
        if watch is None:
            return
        loaded = watch
        if watch.snapshot_needed:
            with using_priority(Priority.PROMPT):
                info = await self.api.call("application.info", {"applicationId": application_id})
            await self.sink.publish_event(application_envelope(info, self.clock()))
            stage = (info.get("currentInterviewStage") or {}).get("id")
            watch = after_snapshot(watch, stage)
            plan_id = (info.get("currentInterviewStage") or {}).get("interviewPlanId")
            if plan_id:
                async with self.pool.acquire() as conn:
                    if not await store.known_record(conn, "interview_plan", str(plan_id)):
                        self.metadata_wanted.set()  # sync now, not at the next metadata interval
        if feedback_check_due(watch, self.clock()):
            items = await self._all("applicationFeedback.list", {"applicationId": application_id})
            now = self.clock()
            await self._publish_all([feedback_envelope(i, now, application_id=application_id) for i in items])
            watch = after_feedback_poll(watch, submitters(items), now, self.decay)
        async with self.pool.acquire() as conn, conn.transaction():
            current = await store.load_watch(conn, application_id, lock=True)
            merged = merge_after_poll(loaded, watch, current, self.clock())
            await store.save_watch(conn, merged)

    # --- candidate merges (issue 21) ----------------------------------------------------------

    async def resolve_merges_once(self) -> int:
        """Read Ashby for each candidate merge not resolved yet and publish where the merged-away
        candidate's applications went; a failure is tried again later (with a growing pause)."""
        now = self.clock()
        async with self.pool.acquire() as conn:
            due = await store.claim_merges(conn, now, now + timedelta(seconds=60))
        for row in due:
            try:
                with using_priority(Priority.PROMPT):
                    await self._resolve_merge(row["event_id"], row["deleted_candidate_id"],
                                              row["merged_candidate_id"])
            except (TransientError, PermanentError, OSError) as exc:
                retry = self.clock() + timedelta(seconds=min(300, 2 ** min(int(row["attempts"]), 8)))
                async with self.pool.acquire() as conn:
                    await store.merge_failed(conn, row["event_id"], retry, f"{type(exc).__name__}: {exc}"[:300])
                log.warning("candidate_merge_not_resolved", event_id=row["event_id"], error=type(exc).__name__)
        return len(due)

    async def _info_or_gone(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return dict(await self.api.call(endpoint, body) or {})
        except AshbyError as exc:
            if is_gone(exc.code):
                return None
            raise

    async def _resolve_merge(self, event_id: str, deleted: str, merged: str) -> None:
        async with self.pool.acquire() as conn:
            old = await store.applications_of(conn, deleted)
        candidate = await self._info_or_gone("candidate.info", {"id": merged}) or {}
        survivors: dict[str, dict[str, Any]] = {}
        for app_id in candidate.get("applicationIds") or []:
            info = await self._info_or_gone("application.info", {"applicationId": str(app_id)})
            if info is not None:
                survivors[str(app_id)] = info
        still: dict[str, dict[str, Any] | None] = {}
        for app_id, _ in old:
            still[app_id] = survivors.get(app_id) or await self._info_or_gone("application.info",
                                                                              {"applicationId": app_id})
        now = self.clock()
        snapshots = {app_id: info for app_id, info in [*survivors.items(), *still.items()] if info is not None}
        await self._publish_all([application_envelope(info, now) for info in snapshots.values()]
                                + merged_applications(event_id, deleted, merged, old, still, survivors, now))
        async with self.pool.acquire() as conn:
            await store.merge_done(conn, event_id)
        log.info("candidate_merge_resolved", event_id=event_id, applications=len(old), survivors=len(survivors))

    # --- loops -------------------------------------------------------------------------------

    async def run_watches(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                n = await self.poll_due_once()
                n += await self.resolve_merges_once()
            except (TransientError, OSError, asyncpg.PostgresError) as exc:
                log.warning("poll_cycle_failed", error=type(exc).__name__)
                n = 0
            if n == 0:
                await _pause(stop, 0.25)

    async def run_feedback_sync(self, stop: asyncio.Event) -> None:
        await self._every(stop, self.feedback_interval_s, self.sync_feedback_once, "feedback_sync_failed")

    async def run_metadata(self, stop: asyncio.Event) -> None:
        await self._every(stop, self.metadata_interval_s, self.sync_metadata_once, "metadata_sync_failed",
                          wake=self.metadata_wanted)

    async def _every(self, stop: asyncio.Event, interval: float, step, failure: str,
                     wake: asyncio.Event | None = None) -> None:
        while not stop.is_set():
            if wake is not None:
                wake.clear()
            try:
                await step()
            except (TransientError, PermanentError, OSError, asyncpg.PostgresError) as exc:
                log.warning(failure, error=f"{type(exc).__name__}: {exc}"[:300])
            await _pause(stop, interval, wake)


async def _pause(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    waiters = [asyncio.ensure_future(stop.wait())] + ([asyncio.ensure_future(wake.wait())] if wake else [])
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()

"""Ingest's consumer handlers: keep the poll watches up to date from the event log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import orjson

from contracts.consumers import Delivered
from ingest import store
from ingest.polling import Decay, Watch, decidable_stages, on_event

POLL_TRACKER = "ingest-poll_watch-v1"
DECIDABLE_CURSOR = "rules.decidable_stages"  # the stages the active rule set decides (a JSON list)


def poll_tracker(decay: Decay, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> Callable[[asyncpg.Connection, list[Delivered]], Awaitable[None]]:
    async def track_polls(conn: asyncpg.Connection, batch: list[Delivered]) -> None:
        now = clock()
        stored = await store.get_cursor(conn, DECIDABLE_CURSOR)
        decidable = frozenset(orjson.loads(stored)) if stored else frozenset()
        # every watch the batch touches in one round trip, folded in memory in stream order, the
        # changed ones saved in one more (two round trips per event made this consumer the slowest)
        watches = await store.load_watches(conn, [_key(d) for d in batch if d.envelope.event_type != "RuleSetActivated"],
                                           lock=True)
        changed: dict[str, Watch] = {}
        for d in batch:
            if d.envelope.event_type == "RuleSetActivated":  # in stream order, like the evaluator sees it
                decidable = decidable_stages(d.envelope.payload.get("document") or {})
                await store.set_cursor(conn, DECIDABLE_CURSOR, orjson.dumps(sorted(decidable)).decode())
                continue
            if d.envelope.event_type == "ApplicationSnapshotted":
                p = d.envelope.payload
                await store.remember_application(conn, p["application_id"], p.get("candidate_id"), p.get("job_id"))
            elif d.envelope.event_type == "CandidateMerged":  # the poller reads Ashby to see what survived
                p = d.envelope.payload
                await store.add_merge(conn, d.envelope.event_id, p["deleted_candidate_id"], p["merged_candidate_id"])
                continue
            updated = on_event(watches.get(_key(d)), d.envelope, now, decay, decidable)
            if updated is not None:
                watches[updated.application_id] = changed[updated.application_id] = updated
        await store.save_watches(conn, list(changed.values()))

    return track_polls


def _key(d: Delivered) -> str:
    return d.envelope.payload.get("application_id") or d.envelope.key

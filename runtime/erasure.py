"""Erasure of a candidate, end to end: the key destroyed (privacy vault), the kept copies of refused
webhooks that mention them deleted (ingest), their demographic categories deleted (compliance), then
`CandidateErased` on the log. And the retention job.

The order is the truthful one: the event is published only after the key is gone, and erasing again
publishes the same event id (JetStream drops the repeat), so a failed publish is mended by a retry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from compliance import store as compliance_store
from contracts.envelope import Envelope
from contracts.errors import TransientError
from contracts.events import CandidateErased
from contracts.ids import derive_id
from ingest import store as ingest_store
from runtime.app import Services

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Erasure:
    candidate_id: str
    erased_at: datetime
    newly: bool
    event_id: str
    stream_seq: int


def erased_event(candidate_id: str, by: str, reason: str, erased_at: datetime) -> Envelope:
    payload = CandidateErased(candidate_id=candidate_id, erased_by=by, reason=reason)  # type: ignore[arg-type]
    event_id = derive_id("candidate-erased", candidate_id)
    return Envelope(event_id=event_id, event_type="CandidateErased", key=candidate_id, occurred_at=erased_at,
                    recorded_at=datetime.now(UTC), correlation_id=event_id, source="privacy",
                    payload=payload.model_dump())


async def erase_candidate(services: Services, candidate_id: str, *, by: str, reason: str = "request") -> Erasure:
    """Raises `TransientError`, saying whether the data is erased already, when Postgres or JetStream
    could not be reached; erasing again is always safe."""
    vault = services.publisher.vault
    try:
        newly, erased_at = await vault.erase(candidate_id, by=by, reason=reason)
        async with services.pool.acquire() as conn:
            forgotten = await ingest_store.forget_rejected(conn, candidate_id)
            demographics = await compliance_store.delete_candidate(conn, candidate_id)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise TransientError(f"not erased: the database could not be reached ({type(exc).__name__}); "
                             "try again") from exc
    env = erased_event(candidate_id, by, reason, erased_at)
    try:
        seq, _ = await services.publisher.publish_event(env)
    except TransientError as exc:
        raise TransientError(f"erased, but the CandidateErased event was not stored ({exc}); erase again "
                             "to record it") from exc
    log.info("erasure_recorded", candidate_id=candidate_id, event_id=env.event_id, stream_seq=seq,
             rejected_copies_deleted=forgotten, demographics_deleted=demographics)
    return Erasure(candidate_id, erased_at, newly, env.event_id, seq)


async def retention_pass(services: Services, days: float) -> list[str]:
    """Erase every candidate last seen more than `days` ago; returns their ids."""
    erased: list[str] = []
    for candidate_id in await services.publisher.vault.due_for_retention(days):
        await erase_candidate(services, candidate_id, by="retention", reason="retention")
        erased.append(candidate_id)
    async with services.pool.acquire() as conn:
        await ingest_store.forget_rejected_before(conn, days)
    return erased


def retention_loop(services: Services):
    """The periodic job (in the `projectors` role) behind PII_RETENTION_DAYS; idle when it is 0 or unset."""
    days = services.settings.pii_retention_days
    interval = services.settings.pii_retention_interval_s

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if days:
                erased = await retention_pass(services, days)
                if erased:
                    log.info("retention_erased", candidates=len(erased), days=days)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass

    return run

"""SQL of ingest's own tables: poller cursors, poll watches, metadata content hashes."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ingest.polling import Watch


async def get_cursor(conn: asyncpg.Connection, name: str) -> str | None:
    return await conn.fetchval("SELECT value FROM poller_cursors WHERE name = $1", name)


async def set_cursor(conn: asyncpg.Connection, name: str, value: str | None) -> None:
    await conn.execute(
        """INSERT INTO poller_cursors (name, value, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""", name, value)


async def load_watch(conn: asyncpg.Connection, application_id: str, *, lock: bool = False) -> Watch | None:
    row = await conn.fetchrow(
        "SELECT state, next_poll_at FROM poll_watch WHERE application_id = $1" + (" FOR UPDATE" if lock else ""),
        application_id)
    return Watch.from_json(application_id, row["state"], row["next_poll_at"]) if row else None


async def load_watches(conn: asyncpg.Connection, application_ids: list[str], *, lock: bool = False
                       ) -> dict[str, Watch]:
    """The watches of `application_ids` in one round trip (locked in id order, as every batch locks them)."""
    rows = await conn.fetch(
        "SELECT application_id, state, next_poll_at FROM poll_watch WHERE application_id = ANY($1::text[]) "
        "ORDER BY application_id" + (" FOR UPDATE" if lock else ""), sorted(set(application_ids)))
    return {r["application_id"]: Watch.from_json(r["application_id"], r["state"], r["next_poll_at"]) for r in rows}


_SAVE_WATCH = """INSERT INTO poll_watch (application_id, state, next_poll_at) VALUES ($1, $2, $3)
    ON CONFLICT (application_id) DO UPDATE SET state = EXCLUDED.state, next_poll_at = EXCLUDED.next_poll_at"""


async def save_watch(conn: asyncpg.Connection, watch: Watch) -> None:
    await conn.execute(_SAVE_WATCH, watch.application_id, watch.to_json(), watch.next_poll_at)


async def save_watches(conn: asyncpg.Connection, watches: list[Watch]) -> None:
    """Several watches in one pipelined round trip, in id order."""
    if watches:
        await conn.executemany(_SAVE_WATCH, [(w.application_id, w.to_json(), w.next_poll_at)
                                             for w in sorted(watches, key=lambda w: w.application_id)])


async def claim_due(conn: asyncpg.Connection, now: datetime, lease_until: datetime, limit: int) -> list[str]:
    """Due applications, leased so another poller replica skips them meanwhile."""
    rows = await conn.fetch(
        """UPDATE poll_watch SET next_poll_at = $2 WHERE application_id IN (
               SELECT application_id FROM poll_watch WHERE next_poll_at <= $1
               ORDER BY next_poll_at LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING application_id""", now, lease_until, limit)
    return [r["application_id"] for r in rows]


async def changed_records(conn: asyncpg.Connection, kind: str, hashes: dict[str, str]) -> set[str]:
    rows = await conn.fetch(
        """SELECT r.id FROM unnest($2::text[], $3::text[]) AS r(id, hash)
           LEFT JOIN poller_metadata_hashes h ON h.kind = $1 AND h.record_id = r.id
           WHERE h.hash IS DISTINCT FROM r.hash""", kind, list(hashes), list(hashes.values()))
    return {r["id"] for r in rows}


async def remember_records(conn: asyncpg.Connection, kind: str, hashes: dict[str, str]) -> None:
    await conn.execute(
        """INSERT INTO poller_metadata_hashes (kind, record_id, hash)
           SELECT $1, * FROM unnest($2::text[], $3::text[])
           ON CONFLICT (kind, record_id) DO UPDATE SET hash = EXCLUDED.hash""", kind, list(hashes), list(hashes.values()))


async def known_record(conn: asyncpg.Connection, kind: str, record_id: str) -> bool:
    """Whether a metadata record of this kind was ever published."""
    return bool(await conn.fetchval("SELECT 1 FROM poller_metadata_hashes WHERE kind = $1 AND record_id = $2",
                                    kind, record_id))


# --- candidate merges (issue 21) -----------------------------------------------------------------


async def remember_application(conn: asyncpg.Connection, application_id: str, candidate_id: str | None,
                               job_id: str | None) -> None:
    await conn.execute(
        """INSERT INTO ingest_applications (application_id, candidate_id, job_id, updated_at) VALUES ($1, $2, $3, now())
           ON CONFLICT (application_id) DO UPDATE SET candidate_id = COALESCE(EXCLUDED.candidate_id,
               ingest_applications.candidate_id), job_id = COALESCE(EXCLUDED.job_id, ingest_applications.job_id),
               updated_at = now()""", application_id, candidate_id, job_id)


async def applications_of(conn: asyncpg.Connection, candidate_id: str) -> list[tuple[str, str | None]]:
    rows = await conn.fetch("SELECT application_id, job_id FROM ingest_applications WHERE candidate_id = $1 "
                            "ORDER BY application_id", candidate_id)
    return [(r["application_id"], r["job_id"]) for r in rows]


async def add_merge(conn: asyncpg.Connection, event_id: str, deleted: str, merged: str) -> None:
    await conn.execute("""INSERT INTO ingest_merges (event_id, deleted_candidate_id, merged_candidate_id)
                          VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""", event_id, deleted, merged)


async def claim_merges(conn: asyncpg.Connection, now: datetime, lease_until: datetime, limit: int = 10) -> list:
    return await conn.fetch(
        """UPDATE ingest_merges SET next_at = $2, attempts = attempts + 1 WHERE event_id IN (
               SELECT event_id FROM ingest_merges WHERE status = 'pending' AND next_at <= $1
               ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
           RETURNING event_id, deleted_candidate_id, merged_candidate_id, attempts""", now, lease_until, limit)


async def merge_done(conn: asyncpg.Connection, event_id: str) -> None:
    await conn.execute("UPDATE ingest_merges SET status = 'done', last_error = NULL WHERE event_id = $1", event_id)


async def merge_failed(conn: asyncpg.Connection, event_id: str, retry_at: datetime, error: str) -> None:
    await conn.execute("UPDATE ingest_merges SET next_at = $2, last_error = $3 WHERE event_id = $1",
                       event_id, retry_at, error)


async def forget_rejected(conn: asyncpg.Connection, needle: str) -> int:
    """Delete the kept copies of refused deliveries that mention `needle` (a candidate's id, on erasure)."""
    result = await conn.execute("DELETE FROM rejected_webhooks WHERE position(convert_to($1, 'UTF8') in body) > 0",
                                needle)
    return int(result.rsplit(" ", 1)[-1])


async def forget_rejected_before(conn: asyncpg.Connection, days: float) -> int:
    """Delete the kept copies of refused deliveries older than `days` (PII_RETENTION_DAYS)."""
    result = await conn.execute(
        "DELETE FROM rejected_webhooks WHERE received_at < now() - make_interval(secs => $1)", days * 86400.0)
    return int(result.rsplit(" ", 1)[-1])

"""SQL of the privacy component's own tables: `pii_keys` and `pii_candidates` (migration 017)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def key_for_sealing(conn: asyncpg.Connection, candidate_id: str, new_wrapped: bytes) -> bytes | None:
    """The candidate's wrapped key (made from `new_wrapped` on first sight), or None once erased.

    Call inside a transaction: the upsert locks the candidate's row, so an erasure running at the
    same time either commits first (and no key is made again) or waits for this one."""
    erased = await conn.fetchval(
        """INSERT INTO pii_candidates AS c (candidate_id) VALUES ($1)
           ON CONFLICT (candidate_id) DO UPDATE SET last_seen_at = now()
           RETURNING c.erased_at IS NOT NULL""", candidate_id)
    if erased:
        return None
    await conn.execute("INSERT INTO pii_keys (candidate_id, wrapped_key) VALUES ($1, $2) "
                       "ON CONFLICT (candidate_id) DO NOTHING", candidate_id, new_wrapped)
    return await conn.fetchval("SELECT wrapped_key FROM pii_keys WHERE candidate_id = $1", candidate_id)


async def save_profile(conn: asyncpg.Connection, candidate_id: str, sealed: str) -> None:
    await conn.execute("UPDATE pii_candidates SET profile = $2 WHERE candidate_id = $1 AND erased_at IS NULL",
                       candidate_id, sealed)


async def profiles(conn: asyncpg.Connection, candidate_ids: list[str]) -> list[Any]:
    return await conn.fetch(
        """SELECT c.candidate_id, c.profile, c.erased_at, k.wrapped_key
           FROM pii_candidates c LEFT JOIN pii_keys k USING (candidate_id)
           WHERE c.candidate_id = ANY($1::text[])""", candidate_ids)


async def keys(conn: asyncpg.Connection, candidate_ids: list[str]) -> dict[str, bytes]:
    rows = await conn.fetch("SELECT candidate_id, wrapped_key FROM pii_keys WHERE candidate_id = ANY($1::text[])",
                            candidate_ids)
    return {r["candidate_id"]: r["wrapped_key"] for r in rows}


async def erase(conn: asyncpg.Connection, candidate_id: str, by: str, reason: str) -> tuple[bool, Any]:
    """Destroy the candidate's key and sealed profile; (erased just now?, when it was erased)."""
    async with conn.transaction():
        before = await conn.fetchval("SELECT erased_at FROM pii_candidates WHERE candidate_id = $1 FOR UPDATE",
                                     candidate_id)
        erased_at = await conn.fetchval(
            """INSERT INTO pii_candidates AS c (candidate_id, erased_at, erased_by, erase_reason)
               VALUES ($1, now(), $2, $3)
               ON CONFLICT (candidate_id) DO UPDATE SET
                   erased_at = coalesce(c.erased_at, now()), erased_by = coalesce(c.erased_by, $2),
                   erase_reason = coalesce(c.erase_reason, $3), profile = NULL
               RETURNING erased_at""", candidate_id, by, reason)
        await conn.execute("DELETE FROM pii_keys WHERE candidate_id = $1", candidate_id)
    return before is None, erased_at


async def due_for_retention(conn: asyncpg.Connection, days: float, limit: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT candidate_id FROM pii_candidates
           WHERE erased_at IS NULL AND last_seen_at < now() - make_interval(secs => $1)
           ORDER BY last_seen_at LIMIT $2""", days * 86400.0, limit)
    return [r["candidate_id"] for r in rows]


async def status(conn: asyncpg.Connection, candidate_id: str) -> Any:
    return await conn.fetchrow(
        "SELECT candidate_id, first_seen_at, last_seen_at, erased_at, erased_by, erase_reason "
        "FROM pii_candidates WHERE candidate_id = $1", candidate_id)

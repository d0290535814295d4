"""The Postgres pool and migrations (plain SQL files applied once each, under an advisory lock)."""

from __future__ import annotations

from importlib import resources

import asyncpg
import structlog

from contracts.event_log import json_codecs

log = structlog.get_logger(__name__)
_LOCK_KEY = 727_001


async def _init_connection(conn: asyncpg.Connection) -> None:
    await json_codecs(conn)


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=min_size, max_size=max_size, init=_init_connection,
                                     command_timeout=60)


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("runtime") / "migrations"
    files = sorted((p.name, p.read_text()) for p in folder.iterdir() if p.name.endswith(".sql"))
    return files


async def migrate(pool_or_conn: asyncpg.Pool | asyncpg.Connection) -> list[str]:
    """Apply pending migrations in name order; returns the names applied. Safe to run concurrently."""
    applied: list[str] = []
    async with _acquire(pool_or_conn) as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for name, sql in migration_files():
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                applied.append(name)
                log.info("migration_applied", migration=name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied


class _acquire:
    def __init__(self, target: asyncpg.Pool | asyncpg.Connection) -> None:
        self._target = target
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        if isinstance(self._target, asyncpg.Pool):
            self._conn = await self._target.acquire()
            return self._conn
        return self._target

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None and isinstance(self._target, asyncpg.Pool):
            await self._target.release(self._conn)

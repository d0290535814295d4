"""Connections and servers one process needs, built from Settings (the composition root's core)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import structlog
from nats.aio.client import Client as NatsClient

from runtime import broker as nats_setup
from runtime.db import create_pool, migrate
from runtime.embedded import EmbeddedNats, EmbeddedPostgres
from runtime.settings import Settings

log = structlog.get_logger(__name__)


def persistent_secret(data_dir: Path, name: str) -> str:
    """A random secret kept under DATA_DIR (mode 0600), made on first use."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


@dataclass
class Services:
    settings: Settings
    nats_url: str
    database_url: str
    nc: NatsClient
    pool: asyncpg.Pool
    publisher: nats_setup.Publisher
    embedded: list = field(default_factory=list)
    closers: list = field(default_factory=list)
    _ashby: object | None = None

    def ashby(self):
        """The Ashby API client (one per process), built on first use."""
        if self._ashby is None:
            from ingest.ashby_client import AshbyClient

            key = self.settings.secret("ashby_api_key")
            if not key:
                raise RuntimeError("ASHBY_API_KEY is not set (autoadvance dev runs a sandbox Ashby instead)")
            s = self.settings
            self._ashby = AshbyClient(s.ashby_api_url, key, timeout=s.ashby_timeout_s, max_retries=s.ashby_max_retries,
                                      backoff_max=s.ashby_backoff_max_s, retry_after_max=s.ashby_retry_after_max_s)
            self.closers.append(self._ashby.aclose)
        return self._ashby

    _slack: object | None = None

    def slack(self):
        """The Slack Web API adapter (one per process), built on first use."""
        if self._slack is None:
            from notifier.slack import SlackWebAdapter

            token = self.settings.secret("slack_bot_token")
            if not token:
                raise RuntimeError("SLACK_BOT_TOKEN is not set (autoadvance dev runs a sandbox Slack instead)")
            self._slack = SlackWebAdapter(token, base_url=self.settings.slack_api_url)
        return self._slack

    async def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        try:
            await self.nc.drain()
        except Exception:  # noqa: BLE001 - closing anyway
            await self.nc.close()
        await self.pool.close()
        for server in reversed(self.embedded):
            server.stop()


def start_embedded(settings: Settings) -> tuple[str, str, list]:
    """URLs to use, starting embedded servers under DATA_DIR for the ones not configured."""
    started: list = []
    nats_url, database_url = settings.nats_url, settings.database_url
    if not nats_url:
        server = EmbeddedNats(settings.data_dir.resolve() / "nats", sync_interval=settings.nats_sync_interval).start()
        started.append(server)
        nats_url = server.url
        log.info("embedded_nats_started", url=nats_url)
    if not database_url:
        pg = EmbeddedPostgres(settings.data_dir.resolve() / "pg").start()
        started.append(pg)
        database_url = pg.url
        log.info("embedded_postgres_started", url=database_url)
    return nats_url, database_url, started


async def open_services(settings: Settings, *, run_migrations: bool = True, name: str = "autoadvance") -> Services:
    nats_url, database_url, embedded = start_embedded(settings)
    try:
        nc = await nats_setup.connect(nats_url, name=name)
        await nats_setup.ensure_streams(nc.jetstream(), replicas=int(settings.stream_replicas),
                                       dedupe_window_s=settings.dedupe_window_s)
        pool = await create_pool(database_url, max_size=settings.db_pool_size)
        if run_migrations:
            await migrate(pool)
    except BaseException:
        for server in reversed(embedded):
            server.stop()
        raise
    return Services(settings, nats_url, database_url, nc, pool, nats_setup.Publisher(nc), embedded)

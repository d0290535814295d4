"""Connections and servers one process needs, built from Settings (the composition root's core)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog
from nats.aio.client import Client as NatsClient

from contracts import subjects
from contracts.commands import SendAlert
from contracts.envelope import Envelope
from contracts.ids import derive_id
from privacy.crypto import Keyring, master_key
from privacy.vault import SealingPublisher, Vault
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
    publisher: SealingPublisher
    """Every event and command passes the privacy vault first (docs/decisions/0008-erasure.md)."""
    embedded: list = field(default_factory=list)
    closers: list = field(default_factory=list)
    _ashby: object | None = None
    _alerts: set = field(default_factory=set)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """The evaluator's clock (its timers: quiet period, timeout, feedback nudges); tests set a virtual one."""

    def ashby(self):
        """The Ashby API client (one per process, so one request budget for every caller), built on first use."""
        if self._ashby is None:
            import httpx

            from ingest.ashby_budget import RequestBudget
            from ingest.ashby_client import AshbyClient
            from runtime.metrics import MeteredTransport

            key = self.settings.secret("ashby_api_key")
            if not key:
                raise RuntimeError("ASHBY_API_KEY is not set (autoadvance dev runs a sandbox Ashby instead)")
            s = self.settings
            budget = RequestBudget(s.ashby_max_requests_per_s, s.ashby_burst,
                                   alert_after_s=s.ashby_throttle_alert_after_s, on_alert=self._throttle_alert)
            self._ashby = AshbyClient(s.ashby_api_url, key, timeout=s.ashby_timeout_s, max_retries=s.ashby_max_retries,
                                      backoff_max=s.ashby_backoff_max_s, retry_after_max=s.ashby_retry_after_max_s,
                                      budget=budget, transport=MeteredTransport(httpx.AsyncHTTPTransport(
                                          limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))))
            self.closers.append(self._ashby.aclose)
        return self._ashby

    def ashby_stats(self) -> dict | None:
        """The request budget's counters, if this process talks to Ashby."""
        return self._ashby.budget.stats() if self._ashby is not None else None  # type: ignore[attr-defined]

    def _throttle_alert(self, info: dict) -> None:
        task = asyncio.get_running_loop().create_task(self._send_throttle_alert(info))
        self._alerts.add(task)
        task.add_done_callback(self._alerts.discard)

    async def _send_throttle_alert(self, info: dict) -> None:
        """An admin alert, once per throttling episode (its id is the episode's start)."""
        now = datetime.now(UTC)
        command_id = derive_id("alert", "ashby_throttled", str(int(info["since"])))
        text = (f"Ashby has been answering 429 (rate limited) for {info['throttled_for_s']:.0f} s "
                f"({info['throttles']} times). Calls are paused and retried, nothing is dropped, but feedback "
                "and stage changes are delayed; another integration may share the API key (see docs/deploy.md).")
        payload = SendAlert(command_id=command_id, kind="ashby_throttled", text=text)
        env = Envelope(event_id=command_id, event_type="SendAlert", key="ashby_throttled", occurred_at=now,
                       recorded_at=now, correlation_id=command_id, source="ingest", payload=payload.model_dump())
        try:
            await self.publisher.publish(subjects.command_subject("slack", "alert", env.key), env)
        except Exception as exc:  # noqa: BLE001 - the throttling itself is logged and counted anyway
            log.warning("ashby_throttle_alert_failed", error=type(exc).__name__)

    _slack: object | None = None
    _pause: object | None = None

    def pause(self):
        """The pause switch (runtime/pause.py), one per process, built on first use."""
        if self._pause is None:
            from runtime.pause import PauseSwitch

            self._pause = PauseSwitch(self.nc.jetstream(), self.publisher, ttl_s=self.settings.pause_check_s)
        return self._pause

    def slack(self):
        """The Slack Web API adapter (one per process), built on first use."""
        if self._slack is None:
            from notifier.slack import SlackWebAdapter
            from runtime.metrics import MeteredSlack

            token = self.settings.secret("slack_bot_token")
            if not token:
                raise RuntimeError("SLACK_BOT_TOKEN is not set (autoadvance dev runs a sandbox Slack instead)")
            self._slack = MeteredSlack(SlackWebAdapter(token, base_url=self.settings.slack_api_url))
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
    vault = Vault(pool, Keyring(master_key(pii_master_secret(settings))))
    try:
        await vault.check_master_key()
    except asyncpg.UndefinedTableError:
        pass  # migrations not applied yet (a process started with run_migrations=False before `migrate`)
    except BaseException:
        await pool.close()
        await nc.close()
        for server in reversed(embedded):
            server.stop()
        raise
    publisher = SealingPublisher(nats_setup.Publisher(nc), vault)
    return Services(settings, nats_url, database_url, nc, pool, publisher, embedded)


def pii_master_secret(settings: Settings) -> str:
    """PII_MASTER_KEY, else a random one kept in DATA_DIR/pii_master_key (the embedded set-up). Every
    process of a deployment must have the same one: a lost master key makes all sealed data unreadable."""
    return settings.secret("pii_master_key") or persistent_secret(settings.data_dir, "pii_master_key")

"""Worker roles: which subscriptions and background loops each role runs.

`create_worker(roles, services)` builds a FastStream broker with the roles' durable consumers;
background loops (pollers, outbox relay, timers) run as tasks beside it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from faststream.nats import NatsBroker

from contracts.consumers import Subscription
from projectors.subscribers import subscriptions as projector_subscriptions
from runtime.app import Services
from runtime.ashby_stats import reporter
from runtime.broker import server_list
from runtime.consumers import ConsumerRunner, attach_effect, pull_loop

log = structlog.get_logger(__name__)

Loop = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class RoleParts:
    subscriptions: list[Subscription] = field(default_factory=list)
    loops: list[tuple[str, Loop]] = field(default_factory=list)


def _projectors(services: Services) -> RoleParts:
    from runtime.erasure import retention_loop

    return RoleParts(subscriptions=projector_subscriptions(), loops=[("pii-retention", retention_loop(services))])


def _poller(services: Services) -> RoleParts:
    """The poll-watch consumer runs in every replica; the Ashby polling loops only in the one holding
    the poller lease, so the deployment polls Ashby once however many replicas run."""
    from ingest.lease import Lease, instance_id, lease_bucket, run_while_leader
    from ingest.poller import AshbyPoller
    from ingest.polling import Decay
    from ingest.subscribers import subscriptions as ingest_subscriptions

    s = services.settings
    decay = Decay.of_seconds(s.feedback_due_poll_interval_s, s.feedback_due_poll_max_interval_s,
                             s.feedback_poll_timeout_s)
    poller = AshbyPoller(services.ashby(), services.publisher, services.pool,
                         feedback_interval_s=s.feedback_poll_interval_s, decay=decay,
                         metadata_interval_s=s.metadata_poll_interval_s)
    loops: list[tuple[str, Loop]] = [("poller-watches", poller.run_watches),
                                     ("poller-feedback", poller.run_feedback_sync),
                                     ("poller-metadata", poller.run_metadata)]

    async def lead(stop: asyncio.Event) -> None:
        kv = await lease_bucket(services.nc.jetstream(), s.poller_lease_s, replicas=int(s.stream_replicas))
        await run_while_leader(Lease(kv, "poller", instance_id(), s.poller_lease_s), loops, stop)

    return RoleParts(subscriptions=ingest_subscriptions(decay), loops=[("poller-lease", lead)])


def _evaluator(services: Services) -> RoleParts:
    from evaluator.live import Evaluator
    from evaluator.subscribers import subscriptions, timer_loop
    from runtime.outbox import OutboxRelay

    evaluator = Evaluator(force_dry_run=services.settings.dry_run, archive_delay_s=services.settings.archive_delay,
                          clock=services.clock, calendar=services.settings.calendar())
    relay = OutboxRelay(services.pool, services.publisher)
    loops = [("evaluator-timers", timer_loop(evaluator, services.pool,
                                             services.settings.evaluator_timer_interval_s))]
    if services.settings.outbox_relay:  # off only to run the relay elsewhere (or in tests)
        loops.append(("outbox-relay", relay.run))
    return RoleParts(subscriptions=subscriptions(evaluator), loops=loops)


def _executor(services: Services) -> RoleParts:
    from executor.plan import lease_times
    from executor.subscribers import subscriptions
    from ingest.ashby_budget import Prioritised, Priority
    from runtime.pause import GatedAshby

    # the executor's calls (stale check, then the change) go before any polling in the budget
    s = services.settings
    times = lease_times(s.executor_lease_ttl_s, s.ashby_timeout_s)
    ashby = GatedAshby(Prioritised(services.ashby(), Priority.WRITE), services.pause())  # no write while paused
    return RoleParts(subscriptions=subscriptions(ashby, services.publisher, dry_run=s.dry_run,
                                                 replica=replica_name(s.replica_id), times=times))


def replica_name(configured: str | None) -> str:
    """This process's lease holder id: the configured replica id (or host name) plus a per-process tag,
    so a restarted replica never mistakes a lease of its previous life for its own."""
    return f"{configured or socket.gethostname()}/{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _notifier(services: Services) -> RoleParts:
    from notifier.subscribers import subscriptions
    from runtime.pause import GatedSlack

    s = services.settings
    return RoleParts(subscriptions=subscriptions(GatedSlack(services.slack(), services.pause()), services.ashby(), services.publisher,
                                                 admin_channel=s.admin_slack_channel,
                                                 fallback_channel=s.slack_fallback_channel,
                                                 names=services.publisher.vault.names))


ROLE_BUILDERS: dict[str, Callable[[Services], RoleParts]] = {
    "projectors": _projectors,
    "evaluator": _evaluator,
    "executor": _executor,
    "notifier": _notifier,
    "poller": _poller,
}


def register_role(name: str, builder: Callable[[Services], RoleParts]) -> None:
    ROLE_BUILDERS[name] = builder


def roles() -> list[str]:
    return list(ROLE_BUILDERS)


@dataclass
class Worker:
    broker: NatsBroker | None
    loops: list[tuple[str, Loop]]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Hand back what effect consumers keep in progress while it waits (before the broker stops)."""
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def start(self) -> None:
        if self.broker is not None:
            await self.broker.start()
        for name, loop in self.loops:
            self._tasks.append(asyncio.create_task(self._guard(name, loop), name=name))

    async def _guard(self, name: str, loop: Loop) -> None:
        while not self._stop.is_set():
            try:
                await loop(self._stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a loop that crashes restarts after a pause
                log.error("loop_crashed", loop=name, error=f"{type(exc).__name__}: {exc}"[:300])
                try:
                    await asyncio.wait_for(self._stop.wait(), 2.0)
                except TimeoutError:
                    pass

    async def stop(self) -> None:
        """Stop fetching; a batch in flight either commits and acks, or is NAKed for redelivery."""
        self._stop.set()
        for close in self.closers:
            await close()
        if self.broker is not None:
            await self.broker.stop()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 15)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
            except Exception:  # noqa: BLE001
                pass


def create_worker(role_names: list[str], services: Services) -> Worker:
    unknown = [r for r in role_names if r not in ROLE_BUILDERS]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; known: {sorted(ROLE_BUILDERS)}")
    settings = services.settings
    broker: NatsBroker | None = None
    loops: list[tuple[str, Loop]] = []
    closers: list[Callable[[], Awaitable[None]]] = []
    js = services.nc.jetstream()
    for role in role_names:
        parts = ROLE_BUILDERS[role](services)
        for sub in parts.subscriptions:
            if sub.transactional:
                loops.append((sub.durable, _pull(js, sub, services, settings)))
                continue
            if broker is None:
                broker = NatsBroker(server_list(services.nats_url), logger=None, graceful_timeout=15.0,
                                    max_reconnect_attempts=-1,
                                    # FastStream annotates it int; nats-py takes seconds as a float
                                    reconnect_time_wait=0.5)  # type: ignore[arg-type]
            closers.append(attach_effect(broker, sub, services.pool, max_deliver=settings.consumer_max_deliver,
                                         ack_wait_s=settings.consumer_ack_wait_s, gate=services.pause()))
        loops.extend(parts.loops)
    if role_names:  # the budget's counters for /health, served by another process (runtime/ashby_stats.py)
        loops.append(("ashby-stats", reporter(js, services.ashby_stats, replicas=int(settings.stream_replicas))))
    return Worker(broker, loops, closers)


def _pull(js, sub: Subscription, services: Services, settings) -> Loop:
    runner = ConsumerRunner(sub, services.pool, js, max_deliver=settings.consumer_max_deliver)

    async def run(stop: asyncio.Event) -> None:
        await pull_loop(js, sub, runner, stop, batch_size=max(1, min(sub.batch_size, settings.consumer_batch_size)),
                        ack_wait_s=settings.consumer_ack_wait_s, max_deliver=settings.consumer_max_deliver,
                        max_batch_size=settings.consumer_max_batch_size, linger_s=settings.consumer_linger_s)

    return run

"""One active poller per deployment: a lease on a JetStream KV key that expires unless renewed.

The holder renews every third of the lease; a replica that finds the key gone (its holder died
or was partitioned away) takes it and starts polling. Losing a renewal stops the loops it guards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import nats.js.errors
import structlog

log = structlog.get_logger(__name__)

LEASE_BUCKET = "autoadvance_leases"
Loop = Callable[[asyncio.Event], Awaitable[None]]


def instance_id() -> str:
    """Who holds a lease: host, pid and a random part (a restarted process is a new holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def lease_bucket(js: Any, ttl_s: float, *, replicas: int = 1) -> Any:
    """The KV bucket of leases; its max age is the lease time (a key not renewed within it expires)."""
    try:
        return await js.key_value(LEASE_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        return await js.create_key_value(bucket=LEASE_BUCKET, ttl=ttl_s, history=1, replicas=replicas)


class Lease:
    def __init__(self, kv: Any, key: str, owner: str, ttl_s: float) -> None:
        self.kv, self.key, self.owner, self.ttl_s = kv, key, owner.encode(), ttl_s
        self.revision: int | None = None

    async def try_acquire(self) -> bool:
        try:
            self.revision = await self.kv.create(self.key, self.owner)
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def renew(self) -> bool:
        try:
            self.revision = await self.kv.update(self.key, self.owner, last=self.revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            self.revision = None
            return False
        return True

    async def release(self) -> None:
        """Let a standby take over at once (a clean stop); a crash leaves the key to expire."""
        if self.revision is not None:
            with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):
                await self.kv.delete(self.key, last=self.revision)
            self.revision = None

    async def holder(self) -> str | None:
        try:
            entry = await self.kv.get(self.key)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None


async def run_while_leader(lease: Lease, loops: list[tuple[str, Loop]], stop: asyncio.Event) -> None:
    """Run `loops` only while holding `lease`; try to take it every third of the lease time."""
    step = max(0.2, lease.ttl_s / 3)
    while not stop.is_set():
        try:
            held = await lease.try_acquire()
        except (nats.js.errors.Error, nats.errors.Error, OSError) as exc:
            log.warning("lease_check_failed", key=lease.key, error=type(exc).__name__)
            held = False
        if not held:
            await _pause(stop, step)
            continue
        log.info("lease_acquired", key=lease.key, owner=lease.owner.decode())
        inner = asyncio.Event()
        tasks = [asyncio.create_task(_guarded(name, loop, inner), name=name) for name, loop in loops]
        try:
            while not stop.is_set():
                await _pause(stop, step)
                if stop.is_set():
                    break
                try:
                    renewed = await lease.renew()
                except (nats.js.errors.Error, nats.errors.Error, OSError) as exc:
                    renewed = False
                    log.warning("lease_renew_failed", key=lease.key, error=type(exc).__name__)
                if not renewed:
                    log.warning("lease_lost", key=lease.key)
                    break
        finally:
            inner.set()
            _, pending = await asyncio.wait(tasks, timeout=10)
            for task in pending:
                task.cancel()
            if stop.is_set():
                await lease.release()


async def _guarded(name: str, loop: Loop, stop: asyncio.Event) -> None:
    """A loop that crashes restarts after a pause, as long as the lease is held."""
    while not stop.is_set():
        try:
            await loop(stop)
            return
        except Exception as exc:  # noqa: BLE001 - logged, then restarted
            log.error("loop_crashed", loop=name, error=f"{type(exc).__name__}: {exc}"[:300])
            await _pause(stop, 2.0)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)

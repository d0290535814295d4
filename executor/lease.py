"""Keeping one attempt's command lease alive: renewed every third of its TTL while the attempt
works, checked right before each write, and the attempt stopped once the lease is not ours."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from time import monotonic
from typing import TypeVar

import asyncpg
import structlog

from contracts.errors import TransientError
from executor import store
from executor.plan import LeaseTimes

log = structlog.get_logger(__name__)
T = TypeVar("T")


class LeaseLost(TransientError):
    """This attempt's lease ended under it (taken over, or not renewable in time): it writes nothing more."""

    def __init__(self, command_id: str, why: str) -> None:
        self.why = why
        super().__init__(f"lease on command {command_id} lost: {why}")


class LeaseKeeper:
    """Renews one holder's lease on one command. `deadline` is this process's own (monotonic)
    bound on the lease: taken before the request that set the expiry, so it never outlives the
    expiry Postgres stores; the attempt is stopped a renewal interval before it."""

    def __init__(self, pool: asyncpg.Pool, command_id: str, holder: str, times: LeaseTimes) -> None:
        self.pool, self.command_id, self.holder, self.times = pool, command_id, holder, times
        self.deadline = monotonic() + times.ttl_s  # construct before acquiring: a safe lower bound
        self.lost: str | None = None

    async def renew(self) -> None:
        """Extend the lease by one TTL now, or raise LeaseLost if it is no longer ours. Called
        right before each write: a write starts only under a lease just confirmed."""
        if self.lost:
            raise LeaseLost(self.command_id, self.lost)
        asked = monotonic()
        async with asyncio.timeout(self.times.renew_s):
            async with self.pool.acquire() as conn:
                ours = await store.renew(conn, self.command_id, self.holder, self.times.ttl_s)
        if not ours:
            self.lost = "taken over or ended"
            raise LeaseLost(self.command_id, self.lost)
        self.deadline = asked + self.times.ttl_s

    async def run(self, work: Awaitable[T]) -> T:
        """Run the attempt while renewing; a lost lease cancels it and surfaces as LeaseLost."""
        task = asyncio.ensure_future(work)
        keeper = asyncio.create_task(self._keep(task))
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.lost and not (current and current.cancelling()):
                raise LeaseLost(self.command_id, self.lost) from None
            raise
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _keep(self, task: asyncio.Future[T]) -> None:
        while not task.done():
            await asyncio.sleep(self.times.renew_s)
            try:
                await self.renew()
                continue
            except LeaseLost:
                pass
            except Exception as exc:  # noqa: BLE001 - Postgres unreachable: keep trying until the deadline
                log.warning("lease_renew_failed", command_id=self.command_id, error=type(exc).__name__)
                if monotonic() < self.deadline - self.times.renew_s:
                    continue
                self.lost = f"not renewed in time ({type(exc).__name__})"
            log.warning("lease_lost", command_id=self.command_id, why=self.lost)
            task.cancel()
            return

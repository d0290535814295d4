"""The executor's command lease against real Postgres: renewed while its holder works, taken over
only after it lapsed, and an attempt whose lease was taken stops without writing."""

from __future__ import annotations

import asyncio

import pytest

from executor import store
from executor.lease import LeaseKeeper, LeaseLost
from executor.plan import lease_times
from support import eventually, running_service

TIMES = lease_times(ttl_s=0.6, timeout_s=0.1)  # renewed every 0.2 s; taken over 0.3 s after it lapsed


async def acquire(svc, holder: str) -> store.Lease:
    async with svc.services.pool.acquire() as conn:
        return await store.acquire(conn, "cmd-1", "AdvanceApplication", "app-1", holder, TIMES.ttl_s,
                                   TIMES.takeover_s)


async def test_a_lease_renewed_by_its_working_holder_outlives_its_ttl_and_nobody_else_takes_it(infra):
    async with running_service(infra, roles=[]) as svc:
        keeper = LeaseKeeper(svc.services.pool, "cmd-1", "a", TIMES)
        assert (await acquire(svc, "a")).kind == "acquired"
        seen: list[str] = []

        async def long_attempt() -> str:
            for _ in range(10):  # 2 s: more than three TTLs plus the takeover wait
                await asyncio.sleep(0.2)
                seen.append((await acquire(svc, "b")).kind)
            return "done"

        assert await keeper.run(long_attempt()) == "done"
        assert set(seen) == {"busy"}


async def test_a_dead_holders_lease_is_taken_over_within_a_ttl_and_the_settle_time_and_read_first(infra):
    async with running_service(infra, roles=[]) as svc:
        assert (await acquire(svc, "a")).kind == "acquired"  # and "a" dies: nobody renews
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def taken() -> store.Lease | None:
            lease = await acquire(svc, "b")
            return lease if lease.kind == "acquired" else None

        lease = await eventually(taken, timeout=10, interval=0.05, message="the dead holder's lease was never taken")
        waited = loop.time() - started
        assert TIMES.ttl_s + TIMES.takeover_s - 0.1 <= waited < 5
        assert lease.reconcile_first == "holder_lost" and lease.attempt == 2


async def test_an_attempt_whose_lease_was_taken_over_stops_and_never_starts_its_write(infra):
    async with running_service(infra, roles=[]) as svc:
        keeper = LeaseKeeper(svc.services.pool, "cmd-1", "a", TIMES)
        assert (await acquire(svc, "a")).kind == "acquired"
        writes: list[str] = []

        async def attempt() -> None:
            await svc.fetch("UPDATE executor_inbox SET lease_holder = 'b' WHERE command_id = 'cmd-1'")  # taken
            await asyncio.sleep(1.0)  # a slow read: the renewal finds the lease taken meanwhile
            await keeper.renew()
            writes.append("changeStage")

        with pytest.raises(LeaseLost):
            await keeper.run(attempt())
        assert writes == []
        with pytest.raises(LeaseLost):  # and a check right before a write refuses too
            await keeper.renew()

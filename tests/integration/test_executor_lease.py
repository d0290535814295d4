"""The executor's command lease against real Postgres: renewed while its holder works, taken over
only after it lapsed, and an attempt whose lease was taken stops without writing."""

from __future__ import annotations

import asyncio

import nats.js.errors
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


async def test_a_duplicate_waiting_on_a_long_healthy_attempt_spends_no_delivery_and_never_fails_it(
        infra, sandbox_ashby):
    """Two replicas; one works a command for seconds (Ashby answers its write 429 with `Retry-After`
    eight times), while a second copy of the same command (an outbox re-publish after the duplicate
    window) reaches the other replica and finds the lease live. With two deliveries allowed, a wait
    that NAKed would dead-letter the copy and record a false `CommandFailed`; a waiting delivery is
    kept in progress instead and acked once the holder is done."""
    from test_exactly_once import applications, command

    from contracts import subjects
    from contracts.envelope import MSG_ID_HEADER
    from sandbox.scenarios import base_scenario

    [app_id] = applications(1)
    sandbox_ashby.load_scenario(base_scenario([{"key": "c0", "candidate": "C0", "job": "backend",
                                                "stage": "technical"}]))
    sandbox_ashby.fail_next("application.changeStage", status=429, retry_after=0.5, times=8)
    fast = {"ashby_timeout_s": 0.3, "ashby_max_retries": 10, "ashby_retry_after_max_s": 1.0,
            "executor_lease_ttl_s": 0.6, "consumer_ack_wait_s": 1.0, "consumer_max_deliver": 2,
            "ashby_api_url": sandbox_ashby.base_url, "ashby_api_key": sandbox_ashby.api_key}
    async with running_service(infra, roles=["executor", "projectors"], replica_id="a", **fast) as svc, \
            running_service(infra, roles=["executor"], replica_id="b", **fast):
        subject, env = command(0, app_id)
        await svc.services.publisher.publish(subject, env)

        async def held() -> bool:
            return bool(await svc.fetchval("SELECT count(*) FROM executor_inbox WHERE status = 'started'"))

        await eventually(held, timeout=20, interval=0.01, message="no replica took the command")
        js = svc.services.nc.jetstream()
        await js.publish(subject, env.to_bytes(), headers={**env.headers(), MSG_ID_HEADER: "republished-copy"})

        async def both_acked() -> bool:
            info = await js.consumer_info(subjects.COMMANDS_STREAM, "executor-ashby-v1")
            return info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq >= 2

        await eventually(both_acked, timeout=60, message="the command or its copy was never acked")
        outcomes = await svc.fetch("SELECT status FROM executor_inbox")
        assert [r["status"] for r in outcomes] == ["succeeded"]

        async def logged() -> list[str]:
            rows = await svc.fetch("SELECT event_type FROM event_log WHERE key = $1 AND event_type IN "
                                   "('CommandSucceeded', 'CommandFailed')", app_id)
            return [r["event_type"] for r in rows]

        assert await eventually(logged, message="no outcome in the log") == ["CommandSucceeded"]
        info = await js.consumer_info(subjects.COMMANDS_STREAM, "executor-ashby-v1")
        assert info.num_redelivered == 0  # the copy waited in progress: no delivery spent
        try:
            dlq = (await js.stream_info(subjects.DLQ_STREAM)).state.messages
        except nats.js.errors.NotFoundError:
            dlq = 0
        assert dlq == 0
        assert sandbox_ashby.applied_count(application_id=app_id) == 1

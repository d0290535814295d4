"""The Ashby request budget against the sandbox Ashby over real HTTP (and real NATS for the alert):
priorities, 429 with and without Retry-After pausing every caller, counters, the throttling alert."""

from __future__ import annotations

import asyncio
import time

import orjson

from contracts import subjects
from ingest.ashby_budget import Prioritised, Priority, RequestBudget, using_priority
from ingest.ashby_client import AshbyClient
from sandbox.ashby_limit import RateLimit
from sandbox.scenarios import base_scenario
from support import eventually, running_service, stream_messages

ONE_APP = [{"key": "a1", "candidate": "A", "job": "backend", "stage": "technical"}]


async def test_a_write_waiting_behind_a_thousand_queued_polls_goes_first(sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario(ONE_APP))
    app_id = next(iter(sandbox_ashby.data["applications"]))
    budget = RequestBudget(rate_per_s=40, burst=1)
    client = AshbyClient(sandbox_ashby.base_url, sandbox_ashby.api_key, budget=budget)
    try:
        with using_priority(Priority.POLL):
            polls = [asyncio.create_task(client.call("archiveReason.list", {})) for _ in range(1000)]
        await eventually(lambda: _async(budget.stats()["queued"] >= 990), message="the polls did not queue up")
        # polls the budget let through before the write asked (some may still be on their way to
        # the sandbox, so the sandbox's count would undercount them on a busy machine)
        granted_before = len(polls) - budget.stats()["queued"]
        executor = Prioritised(client, Priority.WRITE)
        await executor.call("application.info", {"applicationId": app_id})
        write_at = next(i for i, c in enumerate(sandbox_ashby.calls) if c["endpoint"] == "application.info")
        assert write_at <= granted_before + 1, (write_at, granted_before)  # at most one poll granted meanwhile
        assert sum(not p.done() for p in polls) > 900  # the polls were still waiting
        for p in polls:
            p.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        assert budget.stats()["queued"] == 0  # cancelled waiters leave the queue
    finally:
        await client.aclose()
    stats = budget.stats()
    assert stats["requests"]["application.info"] == {"write": {"ok": 1}}
    assert stats["wait_s"]["write"]["count"] == 1 and stats["wait_s"]["poll"]["count"] >= 1


async def test_a_429_with_retry_after_pauses_every_caller_for_that_long(sandbox_ashby):
    budget = RequestBudget(rate_per_s=100, burst=5)
    client = AshbyClient(sandbox_ashby.base_url, sandbox_ashby.api_key, budget=budget, backoff_base=0.01)
    sandbox_ashby.fail_next("user.list", status=429, retry_after=1)
    try:
        first = asyncio.create_task(client.call("user.list", {}))
        await eventually(lambda: _async(budget.throttles == 1), message="no 429 seen")
        others = await asyncio.gather(*(client.call("archiveReason.list", {}) for _ in range(3)))
        assert await first == [] and others == [[], [], []]
    finally:
        await client.aclose()
    limited = next(c for c in sandbox_ashby.calls if c.get("status") == 429)
    after = [c["at"] - limited["at"] for c in sandbox_ashby.calls if c is not limited]
    assert len(after) == 4 and min(after) >= 0.95, after  # nobody called during the Retry-After second
    stats = budget.stats()
    assert stats["requests"]["user.list"]["prompt"] == {"429": 1, "ok": 1}
    assert stats["throttles"] == 1 and stats["throttled_for_s"] == 0.0  # ended by the next success


async def test_a_429_without_retry_after_backs_off_the_whole_budget_and_doubles(sandbox_ashby):
    budget = RequestBudget(rate_per_s=100, burst=5)
    client = AshbyClient(sandbox_ashby.base_url, sandbox_ashby.api_key, budget=budget, backoff_base=0.01)
    sandbox_ashby.fail_next("user.list", status=429, times=2)
    try:
        started = time.monotonic()
        assert await client.call("user.list", {}) == []
        took = time.monotonic() - started
    finally:
        await client.aclose()
    statuses = [c.get("status") for c in sandbox_ashby.calls]
    assert statuses == [429, 429, 200]
    gaps = [b["at"] - a["at"] for a, b in zip(sandbox_ashby.calls, sandbox_ashby.calls[1:], strict=False)]
    assert gaps[0] >= 0.95 and gaps[1] >= 1.95, gaps  # 1 s, then 2 s: the budget's own backoff
    assert took < 5
    assert budget.stats()["requests"]["user.list"]["prompt"] == {"429": 2, "ok": 1}


async def test_the_sandbox_rate_limit_answers_429_like_ashby_and_the_budget_loses_nothing(sandbox_ashby):
    sandbox_ashby.rate_limit = RateLimit(10, burst=2)
    budget = RequestBudget(rate_per_s=40, burst=10)  # offers four times what the sandbox allows
    client = AshbyClient(sandbox_ashby.base_url, sandbox_ashby.api_key, budget=budget, max_retries=20)
    try:
        results = await asyncio.gather(*(client.call("archiveReason.list", {}) for _ in range(30)))
    finally:
        await client.aclose()
    assert results == [[]] * 30
    limited = [c for c in sandbox_ashby.calls if c.get("status") == 429]
    assert limited and limited[0]["response"]["errorInfo"]["code"] == "rate_limit_exceeded"
    assert budget.throttles == len(limited) and sandbox_ashby.rate_limit.limited == len(limited)


async def test_throttling_that_lasts_sends_one_admin_alert(infra, sandbox_ashby):
    sandbox_ashby.rate_limit = RateLimit(0.5, burst=1, retry_after=False)
    async with running_service(infra, roles=[], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key, ashby_throttle_alert_after_s=0.5,
                               ashby_max_requests_per_s=50) as svc:
        client = svc.services.ashby()
        await asyncio.gather(*(client.call("archiveReason.list", {}) for _ in range(2)))  # 429, 429, then ok

        async def alerts() -> list[dict]:
            return [body for _, _, body in await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)
                    if body.get("event_type") == "SendAlert" and body["payload"]["kind"] == "ashby_throttled"]

        [alert] = await eventually(alerts, message="no throttling alert")
        health = (await svc.client.get("/health")).json()
    assert "429" in alert["payload"]["text"] and sandbox_ashby.api_key not in orjson.dumps(alert).decode()
    ashby = health["ashby"]
    assert ashby["alerts"] == 1 and ashby["requests"]["archiveReason.list"]["prompt"]["ok"] == 2
    assert ashby["requests"]["archiveReason.list"]["prompt"]["429"] >= 1


async def _async(value):
    return value

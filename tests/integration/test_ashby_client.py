"""The Ashby client against the sandbox Ashby over real HTTP: pages, sync tokens, retries, errors,
and writes that are never re-sent blind."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ingest.ashby_client import (
    AshbyAuthError,
    AshbyClient,
    AshbyError,
    AshbyOutcomeUnknown,
    AshbyUnavailable,
    is_write,
    retry_after_seconds,
)
from sandbox.ashby import sandbox_id
from sandbox.scenarios import base_scenario, stage


def client_for(sandbox, **kwargs) -> AshbyClient:
    return AshbyClient(sandbox.base_url, sandbox.api_key, **kwargs)


def with_users(sandbox, n: int) -> None:
    sandbox.load_scenario({"users": [{"key": f"user-{i}", "first_name": f"U{i}", "email": f"u{i}@example.com"}
                                     for i in range(n)]})


async def test_pagination_follows_every_cursor_to_the_last_page(sandbox_ashby):
    with_users(sandbox_ashby, 7)  # page size 2 → 4 pages
    client = client_for(sandbox_ashby)
    try:
        pages = [page async for page in client.paginate("user.list", {})]
    finally:
        await client.aclose()
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert len({u["id"] for p in pages for u in p}) == 7
    calls = [c["body"] for c in sandbox_ashby.calls if c["endpoint"] == "user.list"]
    assert "cursor" not in calls[0] and all(c.get("cursor") for c in calls[1:])


async def test_every_request_carries_basic_auth_and_the_versioned_accept_header(sandbox_ashby):
    client = client_for(sandbox_ashby)
    try:
        await client.call("archiveReason.list", {})
    finally:
        await client.aclose()
    [call] = sandbox_ashby.calls
    assert call["authorized"] and call["accept"] == "application/json; version=1"


async def test_incremental_sync_returns_only_what_changed_since_the_token(sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario([{"key": "a1", "candidate": "A", "job": "backend",
                                                "stage": "technical"}]))
    for i in range(3):
        sandbox_ashby.submit_feedback(f"fb-{i}", "a1", "technical", "ivan", {"overall_recommendation": 3})
    client = client_for(sandbox_ashby)
    try:
        first = await client.sync("applicationFeedback.list", {}, None)
        assert first.full and len(first.items) == 3 and first.sync_token
        sandbox_ashby.submit_feedback("fb-new", "a1", "technical", "iris", {"overall_recommendation": 4})
        sandbox_ashby.submit_feedback("fb-1", "a1", "technical", "ivan", {"overall_recommendation": 1})  # edited
        second = await client.sync("applicationFeedback.list", {}, first.sync_token)
        assert not second.full
        assert sorted(i["submittedValues"]["overall_recommendation"] for i in second.items) == [1, 4]
        third = await client.sync("applicationFeedback.list", {}, second.sync_token)
        assert third.items == [] and third.sync_token
    finally:
        await client.aclose()


@pytest.mark.parametrize("break_token", ["expire", "garbage", "too_large"])
async def test_an_unusable_sync_token_falls_back_to_a_full_sync(sandbox_ashby, break_token):
    sandbox_ashby.load_scenario(base_scenario([{"key": "a1", "candidate": "A", "job": "backend",
                                                "stage": "technical"}]))
    sandbox_ashby.submit_feedback("fb-0", "a1", "technical", "ivan", {"overall_recommendation": 3})
    client = client_for(sandbox_ashby)
    try:
        token = (await client.sync("applicationFeedback.list", {}, None)).sync_token
        sandbox_ashby.submit_feedback("fb-1", "a1", "technical", "iris", {"overall_recommendation": 2})
        if break_token == "expire":
            sandbox_ashby.expire_sync_tokens()
        elif break_token == "garbage":
            token = "not-a-token"
        else:
            sandbox_ashby.incremental_sync_limit = 0
        result = await client.sync("applicationFeedback.list", {}, token)
    finally:
        await client.aclose()
    assert result.full and len(result.items) == 2 and result.sync_token != token
    codes = [c.get("code") for c in sandbox_ashby.calls if c.get("code")]
    assert codes == [{"expire": "sync_token_expired", "garbage": "sync_token_invalid",
                      "too_large": "incremental_sync_too_large"}[break_token]]


async def test_a_429_with_retry_after_is_waited_out(sandbox_ashby):
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        await asyncio.sleep(seconds)

    sandbox_ashby.fail_next("archiveReason.list", status=429, retry_after=0.3)
    client = client_for(sandbox_ashby, sleep=sleep)
    try:
        assert await client.call("archiveReason.list", {}) == []
    finally:
        await client.aclose()
    assert waited == [0.3]
    assert [c.get("status") for c in sandbox_ashby.calls] == [429, 200]


async def test_5xx_and_timeouts_are_retried_then_reported_as_transient(sandbox_ashby):
    sandbox_ashby.fail_next("archiveReason.list", status=503)
    sandbox_ashby.fail_next("archiveReason.list", delay=0.5)  # longer than the client's timeout
    client = client_for(sandbox_ashby, timeout=0.2, backoff_base=0.01)
    try:
        assert await client.call("archiveReason.list", {}) == []
        assert len(sandbox_ashby.calls) == 3
        sandbox_ashby.fail_next("archiveReason.list", status=500, times=10)
        with pytest.raises(AshbyUnavailable, match="HTTP 500 after 3 attempts"):
            await AshbyClient(sandbox_ashby.base_url, "k", max_retries=2, backoff_base=0.01).call(
                "archiveReason.list", {})
    finally:
        await client.aclose()


async def test_success_false_is_an_error_not_data(sandbox_ashby):
    sandbox_ashby.fail_next("applicationFeedback.list", code="missing_permission")
    client = client_for(sandbox_ashby)
    try:
        with pytest.raises(AshbyError) as raised:
            await client.sync("applicationFeedback.list", {}, None)
        assert raised.value.code == "missing_permission" and raised.value.status == 200
        with pytest.raises(AshbyError) as raised:
            await client.call("application.info", {"applicationId": "00000000-0000-0000-0000-000000000000"})
        assert raised.value.code == "application_not_found"
    finally:
        await client.aclose()
    assert len(sandbox_ashby.calls) == 2  # permanent errors are not retried


async def test_a_rejected_key_is_an_auth_error_that_does_not_leak_the_key(sandbox_ashby):
    secret_key = "sk-live-do-not-print-me"
    client = AshbyClient(sandbox_ashby.base_url, secret_key)
    try:
        with pytest.raises(AshbyAuthError) as raised:
            await client.call("user.list", {})
    finally:
        await client.aclose()
    assert raised.value.status == 401
    assert secret_key not in str(raised.value) and secret_key not in repr(raised.value.args)


def test_retry_after_accepts_seconds_and_http_dates():
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_writes_are_told_from_reads_by_the_endpoint_name():
    assert is_write("application.changeStage") and is_write("application.changeSource")
    assert is_write("candidate.addTag") and is_write("some.futureEndpoint")
    assert not any(is_write(e) for e in ("application.info", "applicationFeedback.list", "candidate.search",
                                         "application.listHistory", "interviewStage.list"))


def one_application(sandbox) -> tuple[str, dict]:
    sandbox.load_scenario(base_scenario([{"key": "a1", "candidate": "A", "job": "backend", "stage": "technical"}]))
    return sandbox_id("application", "a1"), {"applicationId": sandbox_id("application", "a1"),
                                             "interviewStageId": stage("onsite")}


@pytest.mark.parametrize("fault", [
    {"delay": 0.5},  # applied, answered after the client's timeout
    {"status": 502},
    {"status": 504},
    {"drop": True},
], ids=["late", "502", "504", "dropped"])
async def test_a_write_with_an_unknown_outcome_is_sent_once_and_reported_as_unknown(sandbox_ashby, fault):
    app_id, body = one_application(sandbox_ashby)
    sandbox_ashby.fail_next("application.changeStage", after_apply=True, **fault)
    client = client_for(sandbox_ashby, timeout=0.25, backoff_base=0.01)
    try:
        with pytest.raises(AshbyOutcomeUnknown):
            await client.call("application.changeStage", body)
    finally:
        await client.aclose()
    assert [c["endpoint"] for c in sandbox_ashby.calls] == ["application.changeStage"]
    assert sandbox_ashby.applied_count(application_id=app_id) == 1


async def test_a_write_refused_with_429_is_waited_out_and_sent_again(sandbox_ashby):
    app_id, body = one_application(sandbox_ashby)
    sandbox_ashby.fail_next("application.changeStage", status=429, retry_after=0.1, scope="organization")
    sandbox_ashby.fail_next("application.changeStage", status=429)  # no Retry-After: backoff
    client = client_for(sandbox_ashby, backoff_base=0.01)
    try:
        await client.call("application.changeStage", body)
    finally:
        await client.aclose()
    assert [c.get("status") for c in sandbox_ashby.calls] == [429, 429, 200]
    assert sandbox_ashby.applied_count(application_id=app_id) == 1


class RefuseFirstConnect(httpx.AsyncBaseTransport):
    """The first request cannot connect (nothing was sent); the rest go through."""

    def __init__(self) -> None:
        self.inner, self.refused = httpx.AsyncHTTPTransport(), 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.refused:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def test_a_write_that_could_not_connect_is_retried_because_nothing_was_sent(sandbox_ashby):
    app_id, body = one_application(sandbox_ashby)
    transport = RefuseFirstConnect()
    client = client_for(sandbox_ashby, backoff_base=0.01, transport=transport)
    try:
        await client.call("application.changeStage", body)
    finally:
        await client.aclose()
    assert transport.refused == 1 and sandbox_ashby.applied_count(application_id=app_id) == 1


async def test_reads_keep_their_retries_through_late_answers_and_dropped_connections(sandbox_ashby):
    app_id, _ = one_application(sandbox_ashby)
    sandbox_ashby.fail_next("application.info", delay=0.5, after_apply=True)
    sandbox_ashby.fail_next("application.info", drop=True, after_apply=True)
    sandbox_ashby.fail_next("application.info", status=503)
    client = client_for(sandbox_ashby, timeout=0.25, backoff_base=0.01)
    try:
        info = await client.call("application.info", {"applicationId": app_id})
    finally:
        await client.aclose()
    assert info["id"] == app_id and len(sandbox_ashby.calls) == 4


async def test_latency_faults_slow_every_call_until_cleared(sandbox_ashby):
    sandbox_ashby.fail_next("archiveReason.list", delay=0.05, jitter=0.05, times=0)
    client = client_for(sandbox_ashby)
    try:
        for _ in range(3):
            await client.call("archiveReason.list", {})
        sandbox_ashby.clear_faults()
        await client.call("archiveReason.list", {})
    finally:
        await client.aclose()
    gaps = [b["at"] - a["at"] for a, b in zip(sandbox_ashby.calls, sandbox_ashby.calls[1:], strict=False)]
    assert all(g >= 0.05 for g in gaps) and not sandbox_ashby._faults

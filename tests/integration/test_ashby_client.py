"""The Ashby client against the sandbox Ashby over real HTTP: pages, sync tokens, retries, errors."""

from __future__ import annotations

import asyncio

import pytest

from ingest.ashby_client import AshbyAuthError, AshbyClient, AshbyError, AshbyUnavailable, retry_after_seconds
from sandbox.scenarios import base_scenario


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

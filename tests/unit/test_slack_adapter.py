"""SlackWebAdapter against the sandbox Slack over real HTTP: calls, error classes, the directory cache."""

import socket

import pytest

from contracts.errors import PermanentError, TransientError
from notifier.slack import PostedMessage, RecruiterDirectory, SlackRejected, SlackUnavailable, SlackWebAdapter
from sandbox.slack import BOT_USER_ID, TEAM_ID, SandboxSlack

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]


@pytest.fixture(scope="module")
async def slack():
    sandbox = SandboxSlack()
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
def sandbox(slack):
    slack.reset()
    slack.add_user("U100", "rita.recruiter@example.com", "Rita Recruiter")
    return slack


@pytest.fixture
def adapter(sandbox):
    return SlackWebAdapter(sandbox.token, base_url=sandbox.base_url, timeout=5)


async def test_posting_a_message_returns_the_channel_id_and_ts_slack_recorded(sandbox, adapter):
    posted = await adapter.post_message("#recruiting", "hello", BLOCKS)
    assert posted == PostedMessage(channel=sandbox.channel_id("#recruiting"), ts=sandbox.messages[0]["ts"])
    assert sandbox.messages == [{"channel": posted.channel, "ts": posted.ts, "text": "hello", "blocks": BLOCKS}]


async def test_updating_a_message_records_the_new_text_and_blocks(sandbox, adapter):
    posted = await adapter.post_message("#recruiting", "hello", BLOCKS)
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "decided"}}]
    await adapter.update_message(posted.channel, posted.ts, "decided", new_blocks)
    assert sandbox.updates == [{"channel": posted.channel, "ts": posted.ts, "text": "decided", "blocks": new_blocks}]
    assert sandbox.current(posted.channel, posted.ts)["text"] == "decided"


async def test_looking_up_a_known_email_returns_the_slack_user_id(adapter):
    assert await adapter.lookup_user_by_email("Rita.Recruiter@example.com") == "U100"


async def test_looking_up_an_unknown_email_returns_none(adapter):
    assert await adapter.lookup_user_by_email("nobody@example.com") is None


async def test_a_dm_opens_to_a_known_user_and_a_message_there_lands_in_it(sandbox, adapter):
    channel = await adapter.open_dm("U100")
    assert channel == sandbox.dm_id("U100")
    assert (await adapter.post_message(channel, "hi", BLOCKS)).channel == channel


async def test_an_ephemeral_reply_is_recorded_for_its_user(sandbox, adapter):
    await adapter.post_ephemeral("#recruiting", "U100", "already decided")
    assert [(e["user"], e["text"]) for e in sandbox.ephemerals] == [("U100", "already decided")]


async def test_auth_test_reports_the_bot_identity(adapter):
    identity = await adapter.auth_test()
    assert (identity.team_id, identity.user_id) == (TEAM_ID, BOT_USER_ID)


async def test_a_rate_limited_call_is_transient_and_carries_retry_after(sandbox, adapter):
    sandbox.fail_next("chat.postMessage", "ratelimited", retry_after=7)
    with pytest.raises(TransientError) as caught:
        await adapter.post_message("#recruiting", "hello", BLOCKS)
    assert isinstance(caught.value, SlackUnavailable) and caught.value.retry_after == 7.0
    assert not sandbox.messages
    assert (await adapter.post_message("#recruiting", "hello", BLOCKS)).ts == sandbox.messages[0]["ts"]


async def test_ratelimited_in_a_200_answer_is_transient_too(sandbox, adapter):
    sandbox.fail_next("chat.update", "ratelimited", status=200)
    with pytest.raises(TransientError):
        await adapter.update_message("C1", "1.0", "x", BLOCKS)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_transient(sandbox, adapter, status):
    sandbox.fail_next("users.lookupByEmail", "internal_error", status=status)
    with pytest.raises(TransientError):
        await adapter.lookup_user_by_email("rita.recruiter@example.com")


async def test_an_invalid_token_is_permanent_and_the_token_is_not_in_the_error(sandbox):
    adapter = SlackWebAdapter("xoxb-wrong-secret-token", base_url=sandbox.base_url, timeout=5)
    with pytest.raises(PermanentError) as caught:
        await adapter.post_message("#recruiting", "hello", BLOCKS)
    assert isinstance(caught.value, SlackRejected) and caught.value.error == "invalid_auth"
    assert not isinstance(caught.value, TransientError)
    assert "xoxb-wrong-secret-token" not in str(caught.value)
    assert "xoxb" not in repr(caught.value.__cause__)


@pytest.mark.parametrize(("method", "error"), [("chat.postMessage", "channel_not_found"),
                                               ("chat.postMessage", "not_in_channel")])
async def test_slack_errors_that_retrying_cannot_fix_are_permanent(sandbox, adapter, method, error):
    sandbox.fail_next(method, error)
    with pytest.raises(SlackRejected) as caught:
        await adapter.post_message("#recruiting", "hello", BLOCKS)
    assert caught.value.error == error


async def test_posting_to_a_channel_id_slack_never_issued_is_permanent(adapter):
    with pytest.raises(PermanentError, match="channel_not_found"):
        await adapter.post_message("C0NOTREAL1", "hello", BLOCKS)


async def test_an_unreachable_slack_is_transient():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    adapter = SlackWebAdapter("xoxb-any", base_url=f"http://127.0.0.1:{port}/api/", timeout=2)
    with pytest.raises(TransientError, match="network error"):
        await adapter.auth_test()


async def test_the_directory_resolves_a_recruiter_to_a_dm_and_caches_it_until_the_ttl(sandbox, adapter):
    directory = RecruiterDirectory(adapter, fallback_channel="#recruiting", ttl_s=60)
    first = await directory.resolve("rita.recruiter@example.com", now=1000.0)
    assert (first.channel, first.user_id) == (sandbox.dm_id("U100"), "U100")
    lookups = lambda: sum(c["method"] == "users.lookupByEmail" for c in sandbox.calls)  # noqa: E731
    assert await directory.resolve("RITA.recruiter@example.com", now=1059.0) == first
    assert lookups() == 1
    await directory.resolve("rita.recruiter@example.com", now=1061.0)
    assert lookups() == 2


async def test_the_directory_falls_back_to_the_channel_and_caches_not_found_briefly(sandbox, adapter):
    directory = RecruiterDirectory(adapter, fallback_channel="#recruiting", ttl_s=3600, negative_ttl_s=30)
    assert (await directory.resolve("new.hire@example.com", now=0.0)).channel == "#recruiting"
    sandbox.add_user("U200", "new.hire@example.com", "New Hire")
    assert (await directory.resolve("new.hire@example.com", now=29.0)).user_id is None
    assert (await directory.resolve("new.hire@example.com", now=31.0)).user_id == "U200"
    assert (await directory.resolve(None, now=0.0)).channel == "#recruiting"


async def test_the_directory_does_not_cache_a_transient_failure(sandbox, adapter):
    directory = RecruiterDirectory(adapter, fallback_channel="#recruiting")
    sandbox.fail_next("users.lookupByEmail", "ratelimited")
    with pytest.raises(TransientError):
        await directory.resolve("rita.recruiter@example.com", now=0.0)
    assert (await directory.resolve("rita.recruiter@example.com", now=1.0)).user_id == "U100"


async def test_the_sandbox_never_records_the_token_with_a_call(sandbox, adapter):
    await adapter.post_message("#recruiting", "hello", BLOCKS)
    assert sandbox.token not in str(sandbox.calls)

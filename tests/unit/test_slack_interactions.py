"""Slack interactions: signature checks, parsing clicks into RecruiterDecided, the sandbox's clicks."""

import time
from urllib.parse import parse_qs, urlencode

import httpx
import orjson
import pytest

import ingest.slack as ingest_slack
import notifier.message as message
from contracts.errors import InvalidInput
from ingest.slack import Interaction, parse_interaction, to_recruiter_decided, verify_slack_request
from sandbox.slack import SandboxSlack, block_actions_payload, signed_request

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_764_000_000.0


def _proposal_message(command_id="cmd-42", application_id="app-7"):
    text, blocks = message.build_proposal(
        command_id=command_id, application_id=application_id, candidate_name="Ada Lovelace",
        job_title="Backend Engineer", stage_title="Screen", explanation={"requirements": []})
    return {"channel": "D00000001", "ts": "1764000000.000100", "text": text, "blocks": blocks}


def _click(action="archive", **kw):
    payload = block_actions_payload(_proposal_message(), action, "U100", user_name="rita",
                                    response_url="https://hooks.slack.invalid/r/1", action_ts="1764000001.5")
    return signed_request(payload, kw.get("secret", SECRET), kw.get("timestamp", int(NOW)))


def _verify(body, headers, now=NOW, secret=SECRET):
    return verify_slack_request(secret, body, headers.get("X-Slack-Request-Timestamp"),
                                headers.get("X-Slack-Signature"), now)


def _form(doc) -> bytes:
    return urlencode({"payload": orjson.dumps(doc).decode()}).encode()


def test_a_correctly_signed_request_passes():
    body, headers = _click()
    assert _verify(body, headers)


def test_slacks_documented_example_signature_passes():
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
            b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
            b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmib"
            b"IGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    signature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert verify_slack_request(SECRET, body, "1531420618", signature, now=1531420618 + 10)


def test_a_request_signed_with_another_secret_fails():
    body, headers = _click(secret="not-the-secret")
    assert not _verify(body, headers)


def test_a_body_changed_after_signing_fails():
    body, headers = _click()
    assert not _verify(body.replace(b"archive", b"keep"), headers)


@pytest.mark.parametrize("missing", ["X-Slack-Request-Timestamp", "X-Slack-Signature"])
def test_a_request_without_the_signature_headers_fails(missing):
    body, headers = _click()
    headers.pop(missing)
    assert not _verify(body, headers)


def test_a_timestamp_older_or_newer_than_five_minutes_fails():
    body, headers = _click(timestamp=int(NOW) - 301)
    assert not _verify(body, headers)
    body, headers = _click(timestamp=int(NOW) + 301)
    assert not _verify(body, headers)
    body, headers = _click(timestamp=int(NOW) - 299)
    assert _verify(body, headers)


def test_a_non_numeric_timestamp_or_an_empty_secret_fails():
    body, headers = _click()
    assert not verify_slack_request(SECRET, body, "yesterday", headers["X-Slack-Signature"], NOW)
    assert not verify_slack_request("", body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"], NOW)


def test_an_archive_click_parses_into_an_interaction():
    body, _ = _click()
    assert parse_interaction(body) == Interaction(
        choice="archive", action_id="autoadvance_archive", proposal_command_id="cmd-42", user_id="U100",
        user_name="rita", action_ts="1764000001.5", channel_id="D00000001", message_ts="1764000000.000100",
        response_url="https://hooks.slack.invalid/r/1", team_id="T0SANDBOX", application_id="app-7")


def test_a_keep_click_becomes_a_recruiter_decided_event():
    body, _ = _click("keep")
    event = to_recruiter_decided(parse_interaction(body))
    assert event.model_dump() == {
        "proposal_command_id": "cmd-42", "application_id": "app-7", "choice": "keep", "slack_user_id": "U100",
        "slack_user_name": "rita", "action_ts": "1764000001.5", "channel": "D00000001",
        "message_ts": "1764000000.000100"}
    assert to_recruiter_decided(parse_interaction(body), "app-other").application_id == "app-other"


def test_ingest_and_notifier_agree_on_action_ids_and_block_prefix():
    assert set(ingest_slack.CHOICES) == {message.ARCHIVE_ACTION, message.KEEP_ACTION, message.UNDO_ACTION}
    assert ingest_slack.ACTIONS_BLOCK_PREFIX == message.ACTIONS_BLOCK_PREFIX
    assert ingest_slack.UNDO_BLOCK_PREFIX == message.UNDO_BLOCK_PREFIX


def test_an_undo_click_names_the_archive_and_its_application():
    text, blocks = message.build_window([], state="scheduled", application_id="app-7", archive_command_id="cmd-9",
                                        due_at="2026-11-02T12:35:00+00:00", asked_by="U100")
    payload = block_actions_payload({"text": text, "blocks": blocks, "ts": "1764000000.000100",
                                     "channel": "D00000001"}, "undo", "U100", action_ts="1764000001.5")
    click = parse_interaction(signed_request(payload, "s")[0])
    assert click is not None and click.choice == "undo"
    undo = ingest_slack.to_undo_requested(click)
    assert (undo.archive_command_id, undo.application_id, undo.slack_user_id) == ("cmd-9", "app-7", "U100")
    with pytest.raises(InvalidInput):
        to_recruiter_decided(click)


def test_interactions_that_are_not_our_buttons_are_ignored():
    payload = block_actions_payload(_proposal_message(), "archive", "U100")
    payload["actions"][0]["action_id"] = "some_other_button"
    assert parse_interaction(_form(payload)) is None
    assert parse_interaction(_form({"type": "view_submission", "user": {"id": "U1"}})) is None


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "'payload' is missing"),
    (b"foo=bar", "'payload' is missing"),
    (b"\xff\xfe", "not application/x-www-form-urlencoded"),
    (b"payload=%7Bnot-json", "not valid JSON"),
    (b"payload=%5B1%2C2%5D", "must be a JSON object"),
    (_form({"user": {"id": "U1"}}), "payload.type is missing"),
    (_form({"type": "block_actions", "actions": [{"action_id": "autoadvance_keep", "value": "c"}]}), "payload.user"),
    (_form({"type": "block_actions", "user": {"id": "U1"}, "actions": []}), "payload.actions"),
    (_form({"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "autoadvance_keep"}]}),
     "carries no proposal id"),
])
def test_a_malformed_interaction_is_invalid_input_with_a_reason(body, reason):
    with pytest.raises(InvalidInput) as caught:
        parse_interaction(body)
    assert reason in caught.value.reason


def test_a_click_whose_application_is_unknown_cannot_become_an_event():
    doc = {"type": "block_actions", "user": {"id": "U1"},
           "actions": [{"action_id": "autoadvance_keep", "value": "cmd-1", "block_id": "other"}]}
    with pytest.raises(InvalidInput, match="which application"):
        to_recruiter_decided(parse_interaction(_form(doc)))


async def _receiver(received: list):
    async def app(scope, receive, send):
        event = await receive()
        received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, event.get("body", b"")))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    return app


async def test_simulate_click_posts_a_signed_click_that_verifies_and_parses():
    sandbox, received = SandboxSlack(), []
    sandbox.add_user("U100", "rita@example.com", "Rita")
    sandbox.messages.append(_proposal_message())
    transport = httpx.ASGITransport(app=await _receiver(received))
    async with httpx.AsyncClient(transport=transport, base_url="http://ours") as client:
        response = await sandbox.simulate_click("http://ours/slack/interactions", sandbox.messages[0], "keep",
                                                "U100", client=client)
        assert response.status_code == 200
        await sandbox.simulate_click("http://ours/slack/interactions", sandbox.messages[0], "keep", "U100",
                                     client=client, signing_secret="wrong", timestamp=int(time.time()) - 600)
    (good_headers, good_body), (bad_headers, bad_body) = received
    assert verify_slack_request(sandbox.signing_secret, good_body, good_headers["x-slack-request-timestamp"],
                                good_headers["x-slack-signature"], time.time())
    assert good_headers["content-type"] == "application/x-www-form-urlencoded"
    click = parse_interaction(good_body)
    assert (click.choice, click.proposal_command_id, click.user_id) == ("keep", "cmd-42", "U100")
    assert not verify_slack_request(sandbox.signing_secret, bad_body, bad_headers["x-slack-request-timestamp"],
                                    bad_headers["x-slack-signature"], time.time())


async def test_another_process_can_read_messages_and_trigger_clicks_over_http():
    sandbox = SandboxSlack()
    await sandbox.start()
    try:
        sandbox.messages.append(_proposal_message())
        async with httpx.AsyncClient(base_url=sandbox.root_url, trust_env=False) as client:
            listed = (await client.get("/_sandbox/messages")).json()
            assert listed["messages"][0]["ts"] == "1764000000.000100"
            target = f"{sandbox.root_url}/_sandbox/response/inbox"
            answer = await client.post("/_sandbox/click", json={"target_url": target, "ts": "1764000000.000100",
                                                                "action": "archive", "user_id": "U100"})
            assert answer.json()["status"] == 200
            missing = await client.post("/_sandbox/click", json={"target_url": target, "ts": "nope", "user_id": "U1"})
            assert missing.status_code == 400
        request = sandbox.responses[0]
        body = request["body"].encode()
        assert verify_slack_request(sandbox.signing_secret, body, request["headers"]["x-slack-request-timestamp"],
                                    request["headers"]["x-slack-signature"], time.time())
        payload = orjson.loads(parse_qs(request["body"])["payload"][0])
        assert payload["actions"][0]["action_id"] == "autoadvance_archive"
        assert parse_interaction(body).choice == "archive"
    finally:
        await sandbox.stop()

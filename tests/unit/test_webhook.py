"""Pure webhook logic: signatures, envelopes, deterministic ids, reasons for refusals."""

from datetime import UTC, datetime

import orjson
import pytest
import structlog
from structlog.testing import capture_logs

from contracts.errors import InvalidInput
from ingest import http as ingest_http
from ingest.http import webhook_endpoint
from ingest.ratelimit import TokenBuckets
from ingest.webhook import to_envelope, verify_signature
from support import WEBHOOK_SECRET, schedule_payload, sign

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.mark.parametrize(("header", "ok"), [
    (None, False), ("", False), ("sha256=", False), ("md5=abcd", False),
    ("sha256=" + "0" * 64, False), ("SIGN", False),
])
def test_signatures_that_are_missing_or_wrong_are_refused(header, ok):
    assert verify_signature("s3cret", b"{}", header) is ok


def test_a_correct_signature_passes_and_an_empty_secret_never_does():
    body = b'{"action":"ping"}'
    assert verify_signature("test-webhook-secret", body, sign(body))
    assert verify_signature("test-webhook-secret", body, sign(body).upper().replace("SHA256", "sha256"))
    assert not verify_signature("", body, sign(body, ""))


def test_a_schedule_update_becomes_an_event_keyed_by_its_application():
    body = orjson.dumps(schedule_payload("app-1", webhook_action_id="wa-1"))
    env = to_envelope(body, NOW)
    assert env.event_type == "InterviewScheduleUpdated" and env.key == "app-1"
    assert env.occurred_at == datetime(2026, 11, 1, 10, tzinfo=UTC)
    assert env.recorded_at == NOW
    assert env.payload["schedule"] == orjson.loads(body)["data"]["interviewSchedule"]


def test_event_ids_are_deterministic_per_delivery():
    a = orjson.dumps(schedule_payload("app-1", webhook_action_id="wa-1"))
    b = orjson.dumps(schedule_payload("app-1", webhook_action_id="wa-2"))
    assert to_envelope(a, NOW).event_id == to_envelope(a, datetime.now(UTC)).event_id
    assert to_envelope(a, NOW).event_id != to_envelope(b, NOW).event_id
    plain = orjson.dumps(schedule_payload("app-1"))
    assert to_envelope(plain, NOW).event_id == to_envelope(plain, NOW).event_id


def test_a_ping_produces_no_event():
    assert to_envelope(b'{"action":"ping","data":{"webhookActionType":"ping"}}', NOW) is None


@pytest.mark.parametrize(("body", "reason"), [
    (b"nope", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'{"data":{}}', "action"),
    (b'{"action":"interviewScheduleUpdate","data":{}}', "interviewSchedule"),
    (b'{"action":"interviewScheduleUpdate","data":{"interviewSchedule":{"id":"s","status":"Scheduled"}}}',
     "applicationId"),
])
def test_malformed_bodies_are_refused_with_the_reason(body, reason):
    with pytest.raises(InvalidInput) as err:
        to_envelope(body, NOW)
    assert reason in err.value.reason


def test_unknown_statuses_and_unmodelled_actions_are_kept():
    payload = schedule_payload("app-1", status="SomethingNew")
    assert to_envelope(orjson.dumps(payload), NOW).payload["schedule"]["status"] == "SomethingNew"
    env = to_envelope(orjson.dumps({"action": "offerCreate", "data": {"offer": {"applicationId": "app-2"}}}), NOW)
    assert env.event_type == "AshbyWebhookReceived" and env.key == "app-2"


def test_the_rate_limiter_allows_a_burst_then_refills_over_time():
    buckets = TokenBuckets(rate_per_s=2.0, burst=2)
    assert [buckets.take("c", 0.0) for _ in range(3)][:2] == [0.0, 0.0]
    assert buckets.take("c", 0.0) > 0
    assert buckets.take("other", 0.0) == 0.0
    assert buckets.take("c", 1.0) == 0.0


async def test_an_unexpected_error_while_storing_is_a_bare_500_that_names_nothing(monkeypatch):
    """Not a broker outage (that is a 503): a bug. Ashby gets a 500 (and retries); the answer
    and the log line carry no detail of the error, which could hold anything."""
    class Broken:
        async def publish_event(self, envelope):
            raise RuntimeError(f"boom with {WEBHOOK_SECRET} inside")

    async def rejected(source, reason, body):
        raise AssertionError("a valid webhook is not rejected")

    app = webhook_endpoint(Broken(), secret=WEBHOOK_SECRET, rejected=rejected,
                           limiter=TokenBuckets(rate_per_s=100, burst=100), max_body_bytes=1 << 20)
    body = orjson.dumps(schedule_payload("app-1", webhook_action_id="wa-500"))
    sent: list[dict] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return chunks.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhooks/ashby", "client": ("127.0.0.1", 5000),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"ashby-signature", sign(body).encode())]}
    with capture_logs() as logs:
        # a logger of its own, made under the capture: the module's may already be bound for good
        # to whatever configuration an earlier test left (the CLI caches loggers on first use)
        monkeypatch.setattr(ingest_http, "log", structlog.get_logger(ingest_http.__name__))
        await app(scope, receive, send)
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["http_unhandled_error"]
    assert WEBHOOK_SECRET not in repr(logs)
    assert sent[0]["status"] == 500
    answer = b"".join(m.get("body", b"") for m in sent[1:])
    assert orjson.loads(answer) == {"status_code": 500, "detail": "internal error"}
    assert WEBHOOK_SECRET.encode() not in answer


def test_a_candidate_merge_is_stored_with_both_candidates_keyed_by_the_deleted_one():
    body = {"action": "candidateMerge", "webhookActionId": "wa-9",
            "data": {"deletedCandidate": {"id": "cand-old"}, "mergedCandidate": {"id": "cand-new"}}}
    env = to_envelope(orjson.dumps(body), NOW)
    assert (env.event_type, env.key) == ("CandidateMerged", "cand-old")
    assert (env.payload["deleted_candidate_id"], env.payload["merged_candidate_id"]) == ("cand-old", "cand-new")


@pytest.mark.parametrize("data", [{}, {"deletedCandidate": {"id": "a"}}, {"deletedCandidate": {"id": "a"},
                                                                        "mergedCandidate": {"id": "a"}},
                                  {"deletedCandidate": "a", "mergedCandidate": {"id": "b"}}])
def test_a_candidate_merge_without_two_distinct_candidates_is_refused_with_the_reason(data):
    with pytest.raises(InvalidInput) as err:
        to_envelope(orjson.dumps({"action": "candidateMerge", "data": data}), NOW)
    assert "Candidate" in err.value.reason

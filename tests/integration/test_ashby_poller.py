"""The pollers against the sandbox Ashby with real NATS + Postgres: durable cursors, no duplicates,
targeted feedback checks that decay and stop, only for stages an active rule decides."""

from __future__ import annotations

from contracts import subjects
from ingest.ashby_client import AshbyClient, AshbyError
from ingest.poller import FEEDBACK_CURSOR, AshbyPoller
from ingest.polling import Decay
from sandbox.scenarios import base_scenario, technical_schedule
from support import eventually, running_service, stream_messages

APPS = [{"key": f"a{i}", "candidate": f"Candidate {i}", "job": "backend", "stage": "technical"} for i in range(3)]


async def feedback_events(infra) -> list[dict]:
    return [body for subject, _, body in await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
            if body.get("event_type") == "FeedbackSubmitted"]


def poller_for(svc, sandbox, sink=None) -> tuple[AshbyPoller, AshbyClient]:
    client = AshbyClient(sandbox.base_url, sandbox.api_key)
    poller = AshbyPoller(client, sink or svc.services.publisher, svc.services.pool, feedback_interval_s=3600,
                         decay=Decay.of_seconds(1, 4, 60), metadata_interval_s=3600)
    return poller, client


class CrashAfter:
    """A sink that stores `n` events and then dies, like a poller killed in the middle of a pass."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.left = inner, n

    async def publish_event(self, envelope):
        if self.left <= 0:
            raise RuntimeError("killed")
        self.left -= 1
        return await self.inner.publish_event(envelope)


async def test_a_restarted_poller_resumes_from_its_stored_token_without_duplicates_or_gaps(infra, sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario(APPS))
    for i in range(5):
        sandbox_ashby.submit_feedback(f"fb-{i}", f"a{i % 3}", "technical", "ivan", {"overall_recommendation": i})
    async with running_service(infra, roles=[]) as svc:
        first, client = poller_for(svc, sandbox_ashby)
        assert await first.sync_feedback_once() == 5
        await client.aclose()
        token = await svc.fetchval("SELECT value FROM poller_cursors WHERE name = $1", FEEDBACK_CURSOR)
        assert token

        for i in range(5, 9):
            sandbox_ashby.submit_feedback(f"fb-{i}", f"a{i % 3}", "technical", "iris", {"overall_recommendation": 2})
        killed, client = poller_for(svc, sandbox_ashby, CrashAfter(svc.services.publisher, 2))
        try:
            await killed.sync_feedback_once()
            raise AssertionError("the crashing sink should have stopped the pass")
        except RuntimeError:
            pass
        await client.aclose()
        assert await svc.fetchval("SELECT value FROM poller_cursors WHERE name = $1", FEEDBACK_CURSOR) == token

        calls_before = len(sandbox_ashby.calls)
        restarted, client = poller_for(svc, sandbox_ashby)
        assert await restarted.sync_feedback_once() == 4  # from the stored token: only the new ones
        await client.aclose()
        resumed = [c for c in sandbox_ashby.calls[calls_before:] if c["endpoint"] == "applicationFeedback.list"]
        assert resumed[0]["body"].get("syncToken") == token

    events = await feedback_events(infra)
    assert sorted(e["payload"]["feedback_id"] for e in events) == sorted(
        sandbox_ashby.data["feedback"])  # every one, each once


async def test_an_expired_token_resyncs_everything_without_duplicate_events(infra, sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario(APPS))
    for i in range(4):
        sandbox_ashby.submit_feedback(f"fb-{i}", f"a{i % 3}", "technical", "ivan", {"overall_recommendation": 3})
    async with running_service(infra, roles=[]) as svc:
        poller, client = poller_for(svc, sandbox_ashby)
        await poller.sync_feedback_once()
        sandbox_ashby.expire_sync_tokens()
        sandbox_ashby.submit_feedback("fb-late", "a0", "technical", "iris", {"overall_recommendation": 4})
        await poller.sync_feedback_once()  # full re-sync: 5 items, 4 of them already stored
        await client.aclose()
        assert await svc.fetchval("SELECT count(*) FROM feedback_submissions") == 0  # no projector running
    events = await feedback_events(infra)
    assert len(events) == 5 and len({e["event_id"] for e in events}) == 5


async def test_an_error_envelope_publishes_nothing_and_keeps_the_cursor(infra, sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario(APPS))
    sandbox_ashby.submit_feedback("fb-0", "a0", "technical", "ivan", {"overall_recommendation": 3})
    async with running_service(infra, roles=[]) as svc:
        poller, client = poller_for(svc, sandbox_ashby)
        sandbox_ashby.fail_next("applicationFeedback.list", code="missing_permission")
        try:
            await poller.sync_feedback_once()
            raise AssertionError("expected an AshbyError")
        except AshbyError as exc:
            assert exc.code == "missing_permission"
        await client.aclose()
        assert await svc.fetchval("SELECT value FROM poller_cursors WHERE name = $1", FEEDBACK_CURSOR) is None
    assert await feedback_events(infra) == []


async def test_the_sync_pass_alone_brings_feedback_into_the_read_model_within_seconds(infra, sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario(APPS))
    async with running_service(infra, roles=["projectors", "poller"], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key, feedback_poll_interval_s=1,
                               metadata_poll_interval_s=3600) as svc:
        sandbox_ashby.webhook_url = f"{svc.client.base_url}/webhooks/ashby"
        sandbox_ashby.webhook_secret = svc.settings.secret("ashby_webhook_secret")
        app_id = sandbox_ashby.data["applications"][next(iter(sandbox_ashby.data["applications"]))]["id"]
        sandbox_ashby.set_schedule("s1", app_id, "Scheduled", technical_schedule("s1", app_id, "x")["interviews"])

        async def snapshot_and_schedule():
            doc = (await svc.client.get(f"/api/applications/{app_id}")).json()
            return doc if doc.get("schedules") and doc.get("current_stage_id") else None

        await eventually(snapshot_and_schedule, timeout=10, message="the schedule and snapshot did not arrive")
        sandbox_ashby.submit_feedback("fb-ivan", app_id, "technical", "ivan", {"overall_recommendation": 4})
        sandbox_ashby.submit_feedback("fb-iris", app_id, "technical", "iris", {"overall_recommendation": 3})
        sandbox_ashby.set_schedule_status("s1", "WaitingOnFeedback")

        async def feedback_in_read_model():
            doc = (await svc.client.get(f"/api/applications/{app_id}")).json()
            return len(doc.get("feedback", [])) == 2

        await eventually(feedback_in_read_model, timeout=8, message="feedback did not reach the read model")
    assert all(d.delivered for d in sandbox_ashby.deliveries)


async def test_after_a_full_resync_the_next_pass_is_one_request_with_the_new_token(infra, sandbox_ashby):
    sandbox_ashby.load_scenario(base_scenario(APPS))
    for i in range(3):
        sandbox_ashby.submit_feedback(f"fb-{i}", f"a{i}", "technical", "ivan", {"overall_recommendation": 3})
    async with running_service(infra, roles=[]) as svc:
        poller, client = poller_for(svc, sandbox_ashby)
        await poller.sync_feedback_once()
        old = await svc.fetchval("SELECT value FROM poller_cursors WHERE name = $1", FEEDBACK_CURSOR)
        sandbox_ashby.expire_sync_tokens()
        assert await poller.sync_feedback_once() == 3  # the full pass re-publishes; JetStream drops repeats
        new = await svc.fetchval("SELECT value FROM poller_cursors WHERE name = $1", FEEDBACK_CURSOR)
        before = len(sandbox_ashby.calls)
        assert await poller.sync_feedback_once() == 0
        await client.aclose()
    assert new and new != old
    [call] = sandbox_ashby.calls[before:]  # nothing changed: one request
    assert call["body"]["syncToken"] == new
    assert len({e["event_id"] for e in await feedback_events(infra)}) == len(await feedback_events(infra)) == 3


def _checks(sandbox, app_id: str) -> list[dict]:
    return [c for c in sandbox.calls if c["endpoint"] == "applicationFeedback.list"
            and (c["body"] or {}).get("applicationId") == app_id]


async def test_targeted_checks_decay_stop_when_done_or_moved_and_skip_stages_no_rule_decides(infra, sandbox_ashby):
    from ingest.handlers import DECIDABLE_CURSOR
    from sandbox.scenarios import demo_rules, stage

    apps = [{"key": k, "candidate": k, "job": "backend", "stage": s}
            for k, s in (("ruled", "technical"), ("moved", "technical"), ("unruled", "onsite"))]
    ids = sandbox_ashby.load_scenario(base_scenario(apps))["applications"]
    async with running_service(infra, roles=["poller"], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key, feedback_poll_interval_s=3600,
                               metadata_poll_interval_s=3600, feedback_due_poll_interval_s=0.5,
                               feedback_due_poll_max_interval_s=2, feedback_poll_timeout_s=120,
                               ashby_max_requests_per_s=50) as svc:
        sandbox_ashby.webhook_url = f"{svc.client.base_url}/webhooks/ashby"
        sandbox_ashby.webhook_secret = svc.settings.secret("ashby_webhook_secret")
        assert (await svc.client.post("/api/rulesets", json=demo_rules())).status_code == 201
        await eventually(lambda: svc.fetchval("SELECT value FROM poller_cursors WHERE name = $1", DECIDABLE_CURSOR),
                         message="the poll tracker did not see the rule set")
        for key, app_id in ids.items():
            sandbox_ashby.set_schedule(f"s-{key}", app_id, "WaitingOnFeedback",
                                       technical_schedule(f"s-{key}", app_id, "x")["interviews"])
        await eventually(lambda: _async(len(_checks(sandbox_ashby, ids["ruled"])) >= 3), timeout=20,
                         message="the ruled application was not checked three times")
        at = [c["at"] for c in _checks(sandbox_ashby, ids["ruled"])]
        assert at[1] - at[0] >= 0.9 and at[2] - at[1] >= 1.8, at  # 1 s, then 2 s (the ceiling)

        sandbox_ashby.move(ids["moved"], stage("onsite"))  # a recruiter moved it: its checks stop
        for user in ("ivan", "iris"):  # everyone submitted: its checks stop
            sandbox_ashby.submit_feedback(f"ruled-{user}", ids["ruled"], "technical", user,
                                          {"overall_recommendation": 4})

        async def settled() -> bool:
            rows = await svc.services.pool.fetch("SELECT application_id, state, next_poll_at FROM poll_watch")
            watches = {r["application_id"]: r for r in rows}
            return len(watches) == 3 and all(
                r["next_poll_at"] is None and not r["state"]["feedback_due"] for r in watches.values())

        await eventually(settled, timeout=20, message="the checks did not stop")
    assert _checks(sandbox_ashby, ids["unruled"]) == []  # no rule decides the onsite stage
    assert {e["payload"]["feedback_id"] for e in await feedback_events(infra)} == {
        sandbox_ashby.data["feedback"][f]["id"] for f in sandbox_ashby.data["feedback"]}


async def _async(value):
    return value

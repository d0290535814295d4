"""Projectors: one transaction per batch, ack after commit, crash-safe, newest wins, poison to DLQ."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import nats
import orjson

from contracts import subjects
from contracts.envelope import Envelope
from contracts.events import InterviewScheduleUpdated
from runtime.broker import Publisher, connect, ensure_streams
from runtime.db import create_pool, migrate
from support import ADMIN_TOKEN, eventually, running_service, schedule_payload, stream_messages


def schedule_envelope(i: int, *, app: str, schedule: str, status: str, updated_at: datetime) -> Envelope:
    raw = schedule_payload(app, schedule_id=schedule, status=status,
                           updated_at=updated_at.isoformat().replace("+00:00", "Z"))["data"]["interviewSchedule"]
    payload = InterviewScheduleUpdated(action="interviewScheduleUpdate", schedule=raw)
    return Envelope(event_id=f"evt-{i}", event_type="InterviewScheduleUpdated", key=app, occurred_at=updated_at,
                    recorded_at=datetime.now(UTC), source="ashby", payload=payload.model_dump())


async def publish_history(nats_url: str, n: int) -> dict[str, str]:
    """n schedule updates over n//4 schedules in shuffled time order; returns expected newest status."""
    nc = await connect(nats_url)
    await ensure_streams(nc.jetstream())
    pub = Publisher(nc)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    expected: dict[str, tuple[datetime, str]] = {}
    statuses = ["Scheduled", "WaitingOnFeedback", "Complete", "Cancelled"]
    for i in range(n):
        sched = f"s{i % (n // 4)}"
        # later publications are not always newer: every third update is back-dated
        ts = base + timedelta(minutes=(i * 7919) % 1000)
        status = statuses[i % 4]
        env = schedule_envelope(i, app=f"a{i % (n // 4)}", schedule=sched, status=status, updated_at=ts)
        await pub.publish_event(env)
        if sched not in expected or ts >= expected[sched][0]:
            expected[sched] = (ts, status)
    await nc.close()
    return {k: v[1] for k, v in expected.items()}


async def test_out_of_order_schedule_updates_keep_the_newest(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        newer = schedule_payload("app-o", status="Complete", updated_at="2026-11-02T12:00:00.000Z")
        older = schedule_payload("app-o", status="Scheduled", updated_at="2026-11-02T09:00:00.000Z")
        assert (await svc.post_webhook(newer)).status_code == 200
        assert (await svc.post_webhook(older)).status_code == 200
        await eventually(lambda: svc.fetchval(
            "SELECT applied = 2 FROM projection_stats WHERE consumer = 'schedules'"))
        assert await svc.fetchval("SELECT status FROM interview_schedules WHERE application_id = 'app-o'") == "Complete"


async def test_a_newer_update_replaces_the_panel_and_the_events_and_a_late_older_one_changes_nothing(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        first = schedule_payload("app-p", status="Scheduled", updated_at="2026-11-02T09:00:00.000Z",
                                 interviewers=["u1", "u2"])
        newer = schedule_payload("app-p", status="WaitingOnFeedback", updated_at="2026-11-02T12:00:00.000Z",
                                 interviewers=["u2", "u3"])
        newer_event = newer["data"]["interviewSchedule"]["interviewEvents"][0]
        newer_event["id"] = "ev-replanned"  # Ashby re-planned the interview as a new event
        newer_event["interviewers"][0]["isFeedbackRequired"] = False
        late = schedule_payload("app-p", status="Scheduled", updated_at="2026-11-02T10:00:00.000Z",
                                interviewers=["u9"])
        for body in (first, newer, late):
            assert (await svc.post_webhook(body)).status_code == 200
        await eventually(lambda: svc.fetchval("SELECT applied = 3 FROM projection_stats WHERE consumer = 'schedules'"))
        assert await svc.fetchval("SELECT status FROM interview_schedules WHERE application_id = 'app-p'") == \
            "WaitingOnFeedback"
        events = await svc.fetch("SELECT interview_event_id FROM interview_events WHERE application_id = 'app-p'")
        assert [r["interview_event_id"] for r in events] == ["ev-replanned"]
        people = await svc.fetch("SELECT interview_event_id, user_id, is_feedback_required "
                                 "FROM interview_event_interviewers ORDER BY user_id")
        assert [tuple(r) for r in people] == [("ev-replanned", "u2", False), ("ev-replanned", "u3", True)]


async def test_a_projector_killed_mid_batch_and_restarted_matches_an_uninterrupted_run(infra):
    n = 4000
    expected = await publish_history(infra.nats_url, n)
    pool = await create_pool(infra.database_url)
    await migrate(pool)
    env = {**os.environ, **infra.env(), "LOG_LEVEL": "WARNING", "CONSUMER_BATCH_SIZE": "64",
           "CONSUMER_ACK_WAIT_S": "2"}  # the killed worker's unacked batch comes back after ack_wait
    cmd = [sys.executable, "-m", "runtime.cli", "worker", "projectors"]

    async def applied() -> int:
        return await pool.fetchval("SELECT coalesce(sum(applied), 0) FROM projection_stats") or 0

    try:
        proc = subprocess.Popen(cmd, env=env)
        try:
            seen = await eventually(applied, timeout=30, interval=0.005, message="worker applied nothing")
            proc.send_signal(signal.SIGKILL)  # no chance to finish the batch or ack it
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert seen < 2 * n, "the kill should land before the projection is complete"
        proc = subprocess.Popen(cmd, env=env)
        try:
            await eventually(lambda: _done(pool, 2 * n), timeout=60, message="restarted worker did not catch up")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        rows = await pool.fetch("SELECT schedule_id, status FROM interview_schedules")
        assert {r["schedule_id"]: r["status"] for r in rows} == expected
        assert await pool.fetchval("SELECT count(*) FROM event_log") == n
        stats = {r["consumer"]: r["applied"] for r in await pool.fetch("SELECT * FROM projection_stats")}
        assert stats["event_log"] == n, "an event was copied twice"
        assert stats["schedules"] == n, "an event was applied twice"
    finally:
        await pool.close()


async def _done(pool, total: int) -> bool:
    return (await pool.fetchval("SELECT coalesce(sum(applied), 0) FROM projection_stats")) >= total


async def test_a_poison_message_goes_to_the_dlq_with_its_reason_and_the_rest_still_apply(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        nc = await nats.connect(infra.nats_url)
        await nc.jetstream().publish("ev.ashby.InterviewScheduleUpdated.bad", b"not an envelope",
                                     headers={"Nats-Msg-Id": "poison-1"})
        await nc.jetstream().publish("ev.ashby.FeedbackSubmitted.bad", b"not an envelope either",
                                     headers={"Nats-Msg-Id": "poison-2"})
        await nc.close()
        assert (await svc.post_webhook(schedule_payload("app-after-poison"))).status_code == 200
        await eventually(lambda: svc.fetchval("SELECT count(*) = 1 FROM interview_schedules"))
        assert await svc.fetchval("SELECT count(*) FROM event_log") == 1
        dlq = await eventually(lambda: _dlq(infra.nats_url, 2), message="poison not dead-lettered")
        assert len(dlq) == 2  # each poison message once, by the one projector consumer
        assert {h["Dlq-Subject"] for _, h, _ in dlq} == {"ev.ashby.InterviewScheduleUpdated.bad",
                                                         "ev.ashby.FeedbackSubmitted.bad"}
        assert {h["Dlq-Consumer"] for _, h, _ in dlq} == {"projectors-all-v1"}
        assert all("not an event envelope" in h["Dlq-Reason"] for _, h, _ in dlq)


async def _dlq(nats_url: str, n: int):
    try:
        msgs = await stream_messages(nats_url, subjects.DLQ_STREAM)
    except Exception:  # noqa: BLE001 - not created yet
        return None
    return msgs if len(msgs) >= n else None


async def test_the_audit_trail_lists_an_applications_events_in_log_order_for_admins_only(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        for i, status in enumerate(["Scheduled", "WaitingOnFeedback", "Complete"]):
            payload = schedule_payload("app-t", status=status, updated_at=f"2026-11-0{i + 1}T10:00:00.000Z")
            assert (await svc.post_webhook(payload)).status_code == 200
        await eventually(lambda: svc.fetchval("SELECT count(*) = 3 FROM event_log"))
        anonymous = await svc.client.get("/api/events", params={"key": "app-t"}, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        wrong = await svc.client.get("/api/events", params={"key": "app-t"},
                                     headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        trail = (await svc.client.get("/api/events", params={"key": "app-t"})).json()["events"]
        assert [e["payload"]["schedule"]["status"] for e in trail] == ["Scheduled", "WaitingOnFeedback", "Complete"]
        seqs = [e["stream_seq"] for e in trail]
        assert seqs == sorted(seqs)
        missing = await svc.client.get("/api/applications/nobody")
        assert missing.status_code == 404
        assert ADMIN_TOKEN not in missing.text


async def test_health_reports_a_stopped_postgres_as_503(infra, tmp_path):
    from runtime.embedded import EmbeddedPostgres

    pg = EmbeddedPostgres(tmp_path / "own-pg").start()
    try:
        infra.database_url = pg.url
        async with running_service(infra, roles=[]) as svc:
            ok = await svc.client.get("/health")
            assert ok.status_code == 200 and ok.json()["postgres"]["ok"] is True
            EmbeddedPostgres(pg.data_dir, port=pg.port).stop()  # stopped from outside, as an operator would
            down = await svc.client.get("/health")
            assert down.status_code == 503
            assert down.json()["postgres"]["ok"] is False
            pg.start()
            await eventually(lambda: _healthy(svc), timeout=20, message="health did not recover")
    finally:
        pg.stop()


async def _healthy(svc) -> bool:
    return (await svc.client.get("/health")).status_code == 200


async def test_the_events_in_the_stream_are_valid_envelopes(infra):
    async with running_service(infra, roles=[]) as svc:
        await svc.post_webhook(schedule_payload("app-v"))
        [(_, _, body)] = await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
        Envelope.model_validate_json(orjson.dumps(body))

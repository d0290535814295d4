"""`autoadvance rebuild`: a read model rebuilt from event_log while webhooks keep arriving ends
equal to one built from scratch, queries never fail across the switch, and the old copy goes."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import orjson
import scenario

from contracts import subjects
from contracts.envelope import Envelope, parse_envelope
from ingest.ashby_events import application_envelope
from projectors.rebuild import MODELS, rebuild
from support import eventually, running_service, schedule_payload, stream_messages

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def webhook(n: int, rnd: random.Random) -> dict:
    app = f"app-b{rnd.randrange(40):02d}"
    at = T0 + timedelta(minutes=rnd.randrange(600))
    return schedule_payload(app, schedule_id=f"sched-{app}-{rnd.randrange(2)}",
                            status=rnd.choice(("Scheduled", "WaitingOnFeedback", "Complete", "Cancelled")),
                            updated_at=at.isoformat().replace("+00:00", "Z"), webhook_action_id=f"wh-{n}",
                            interviewers=[f"u{rnd.randrange(5)}" for _ in range(rnd.choice((1, 2, 3)))])


def snapshot(n: int, rnd: random.Random) -> Envelope:
    app = f"app-b{rnd.randrange(40):02d}"
    info = {"id": app, "status": rnd.choice(("Active", "Active", "Archived")),
            "updatedAt": (T0 + timedelta(minutes=rnd.randrange(600))).isoformat(), "candidate": {"id": f"c-{app}"},
            "job": {"id": "job-1"}, "currentInterviewStage": {"id": f"stage-{rnd.randrange(3)}",
                                                             "interviewPlanId": "plan-1"}, "hiringTeam": []}
    return application_envelope(info, T0 + timedelta(seconds=n))


class Traffic:
    """Webhooks through HTTP and polled facts through the publisher, until stopped."""

    def __init__(self, svc, seed: int) -> None:
        self.svc, self.rnd, self.n, self.stop = svc, random.Random(seed), 0, asyncio.Event()

    async def one(self) -> None:
        self.n += 1
        assert (await self.svc.post_webhook(webhook(self.n, self.rnd))).status_code == 200
        if self.n % 2:
            await self.svc.services.publisher.publish_event(snapshot(self.n, self.rnd))
        if self.n % 3 == 0:
            app = f"app-b{self.rnd.randrange(40):02d}"
            await self.svc.services.publisher.publish_event(scenario.feedback(app, f"u{self.n % 5}", self.n % 5))

    async def run(self) -> None:
        while not self.stop.is_set():
            await self.one()


class Readers:
    """Queries against the read models during the rebuild: every one must succeed."""

    def __init__(self, svc) -> None:
        self.svc, self.statuses, self.stop = svc, [], asyncio.Event()

    async def run(self) -> None:
        while not self.stop.is_set():
            resp = await self.svc.client.get("/api/applications/app-b01")
            self.statuses.append(resp.status_code)
            rows = await self.svc.fetchval("SELECT count(*) FROM interview_schedules")
            assert rows >= 0


async def caught_up(infra, svc) -> bool:
    last = len(await stream_messages(infra.nats_url, subjects.EVENTS_STREAM))
    logged = await svc.fetchval("SELECT count(*) FROM event_log")
    marks = await svc.fetch("SELECT consumer, stream_seq FROM consumer_checkpoints")
    done = {r["consumer"]: r["stream_seq"] for r in marks}
    newest = await svc.fetch("SELECT event_type, source, max(stream_seq) AS seq FROM event_log "
                             "GROUP BY event_type, source")
    def need(model) -> int:
        return max((r["seq"] for r in newest if r["event_type"] in model.event_types
                    and (model.source is None or r["source"] == model.source)), default=0)

    need_sched, need_ashby = need(MODELS["schedules"]), need(MODELS["applications"])
    return (logged == last and done.get(MODELS["schedules"].consumer, 0) >= need_sched
            and done.get(MODELS["applications"].consumer, 0) >= need_ashby)


def newest_per(items: list[tuple[str, tuple, tuple]]) -> dict[str, tuple]:
    """From (id, order key, value) in stream order: the value with the greatest order key."""
    best: dict[str, tuple[tuple, tuple]] = {}
    for key, order, value in items:
        if key not in best or order >= best[key][0]:
            best[key] = (order, value)
    return {k: v for k, (_, v) in best.items()}


async def test_rebuild_while_webhooks_keep_arriving_ends_equal_to_a_build_from_scratch(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        traffic = Traffic(svc, seed=3)
        for _ in range(150):
            await traffic.one()
        await eventually(lambda: caught_up(infra, svc), timeout=30, message="projectors did not catch up")

        feeding = asyncio.create_task(traffic.run())
        readers = Readers(svc)
        reading = asyncio.create_task(readers.run())
        sent_before = traffic.n
        reports = [await rebuild(svc.services.pool, "schedules", batch_size=50, max_gap=5),
                   await rebuild(svc.services.pool, "applications", batch_size=50, max_gap=5)]
        sent_during = traffic.n - sent_before
        for _ in range(20):  # and some more after the switch, into the new tables
            await asyncio.sleep(0)
            await traffic.one()
        traffic.stop.set()
        readers.stop.set()
        await feeding
        await reading
        await eventually(lambda: caught_up(infra, svc), timeout=30, message="projectors did not catch up")

        assert sent_during > 0, "the traffic did not overlap the rebuild"
        assert all(r.switched and r.old_dropped and not r.differences for r in reports)
        assert readers.statuses and set(readers.statuses) == {200}
        schemas = await svc.fetch("SELECT nspname FROM pg_namespace WHERE nspname ~ '^(rebuild|replaced)_'")
        assert schemas == []
        indexes = {r["indexname"] for r in await svc.fetch("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        assert {"interview_schedules_app", "interview_schedules_pkey", "feedback_submissions_app"} <= indexes
        keys = await svc.fetchval("SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND connamespace = "
                                  "'public'::regnamespace AND conrelid::regclass::text = ANY($1::text[])",
                                  [t for m in MODELS.values() for t in m.tables])
        assert keys == sum(len(m.tables) for m in MODELS.values())

        # the read models now equal what the stream itself says (built here from scratch, by hand)
        messages = [(seq, parse_envelope(orjson_bytes(body)))
                    for seq, (_, _, body) in enumerate(await stream_messages(infra.nats_url, subjects.EVENTS_STREAM), 1)]
        schedules = newest_per([
            (e.payload["schedule"]["id"], (e.payload["schedule"]["updatedAt"] is not None,
                                           datetime.fromisoformat(e.payload["schedule"]["updatedAt"].replace("Z", "+00:00")),
                                           seq),
             (e.payload["schedule"]["status"], seq))
            for seq, e in messages if e.event_type == "InterviewScheduleUpdated"])
        rows = await svc.fetch("SELECT schedule_id, status, stream_seq FROM interview_schedules")
        assert {r["schedule_id"]: (r["status"], r["stream_seq"]) for r in rows} == schedules
        apps = newest_per([(e.payload["application_id"], (e.occurred_at, seq),
                            (e.payload["current_stage_id"], e.payload["status"], seq))
                           for seq, e in messages if e.event_type == "ApplicationSnapshotted"])
        rows = await svc.fetch("SELECT application_id, current_stage_id, status, stream_seq FROM applications")
        assert {r["application_id"]: (r["current_stage_id"], r["status"], r["stream_seq"]) for r in rows} == apps

        # and a fresh copy of every table built from event_log now finds no difference at all
        for name in MODELS:
            again = await rebuild(svc.services.pool, name)
            assert again.switched and again.differences == []


async def test_a_copy_that_differs_is_reported_and_not_switched(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        traffic = Traffic(svc, seed=9)
        for _ in range(30):
            await traffic.one()
        await eventually(lambda: caught_up(infra, svc), timeout=30)
        await svc.fetchval("UPDATE interview_schedules SET status = 'Tampered' WHERE schedule_id = "
                           "(SELECT min(schedule_id) FROM interview_schedules) RETURNING 1")
        try:
            await rebuild(svc.services.pool, "schedules")
        except Exception as exc:  # noqa: BLE001 - RebuildFailed, checked below
            failure = exc
        else:
            raise AssertionError("a differing copy was switched")
        assert type(failure).__name__ == "RebuildFailed" and "interview_schedules: 1 row(s) only in the live" in str(failure)
        assert await svc.fetchval("SELECT count(*) FROM interview_schedules WHERE status = 'Tampered'") == 1
        assert await svc.fetch("SELECT nspname FROM pg_namespace WHERE nspname ~ '^(rebuild|replaced)_'") == []
        # after a projector fix the operator accepts the differences: the log's version wins
        report = await rebuild(svc.services.pool, "schedules", accept_differences=True)
        assert report.switched and report.differences
        assert await svc.fetchval("SELECT count(*) FROM interview_schedules WHERE status = 'Tampered'") == 0


def orjson_bytes(body) -> bytes:
    return orjson.dumps(body)

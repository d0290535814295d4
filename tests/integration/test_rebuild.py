"""`autoadvance rebuild`: a read model rebuilt from event_log while webhooks keep arriving ends
equal to one built from scratch, queries never fail across the switch, and the old copy goes."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import orjson

from contracts import subjects
from contracts.envelope import Envelope, parse_envelope
from contracts.event_log import LOG_COLUMNS
from ingest.ashby_events import application_envelope
from projectors.rebuild import MODELS, rebuild
from support import eventually, running_service, scenario, schedule_payload, stream_messages

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
    newest = await svc.fetch("SELECT event_type, max(stream_seq) AS seq FROM event_log GROUP BY event_type")
    def need(model) -> int:
        return max((r["seq"] for r in newest if r["event_type"] in model.event_types), default=0)

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


# --- the bulk load equals the handlers ----------------------------------------------------------

LOG = ("stream_seq", "event_id", "event_type", "schema_version", "key", "source", "occurred_at", "recorded_at",
       "correlation_id", "causation_id", "payload")


def tangled_history(rnd: random.Random, n: int) -> list[tuple[str, int, str, str, datetime, dict]]:
    """(event type, schema version, key, source, occurred_at, payload): few keys, few distinct
    times (so equal timestamps are common), missing times, updates out of order, re-sent
    duplicates, stages moving between plans, repeated form field paths, v1 feedback (upcast)."""
    def at() -> datetime:
        return T0 + timedelta(minutes=rnd.randrange(4))

    def stamp() -> str | None:
        return None if rnd.random() < 0.15 else at().isoformat().replace("+00:00", "Z")

    out = []
    for _ in range(n):
        kind = rnd.randrange(7)
        if kind == 0:
            sid = f"s{rnd.randrange(6)}"
            events = [{"id": f"ev-{sid}-{k}", "interviewId": rnd.choice((None, "int-1")),
                       "startTime": stamp(), "endTime": stamp(),
                       "interviewers": [{"id": f"u{u}", "isFeedbackRequired": rnd.random() < 0.7}
                                        for u in rnd.sample(range(5), rnd.randrange(4))]}
                      for k in rnd.sample(range(4), rnd.randrange(1, 4))]
            schedule = {"id": sid, "applicationId": f"a{sid}", "interviewStageId": f"st{rnd.randrange(3)}",
                        "candidateId": rnd.choice((None, "c1")), "status": rnd.choice(("Scheduled", "Complete")),
                        "updatedAt": stamp(), "interviewEvents": events}
            out.append(("InterviewScheduleUpdated", 1, sid, "ashby", at(), {"schedule": schedule}))
        elif kind == 1:
            app = f"a{rnd.randrange(5)}"
            out.append(("ApplicationSnapshotted", 1, app, "ashby", at(),
                        {"application_id": app, "candidate_id": "c1", "job_id": "j1", "interview_plan_id": "p1",
                         "current_stage_id": f"st{rnd.randrange(3)}", "status": rnd.choice(("Active", "Hired")),
                         "hiring_team": [{"userId": f"u{rnd.randrange(3)}", "role": "Recruiter"}]}))
        elif kind == 2:
            fid, app = f"f{rnd.randrange(6)}", f"a{rnd.randrange(5)}"
            values = {"overall": rnd.randrange(5)}
            if rnd.random() < 0.2:  # the old shape, upcast on read
                out.append(("FeedbackSubmitted", 1, app, "ashby", at(),
                            {"feedback_id": fid, "application_id": app, "submitted_at": stamp(),
                             "submitted_by": "u1", "values": [{"path": "overall", "value": values["overall"]}]}))
            else:
                out.append(("FeedbackSubmitted", 2, app, "ashby", at(),
                            {"feedback_id": fid, "application_id": app, "submitted_at": stamp(),
                             "submitted_by_user_id": f"u{rnd.randrange(3)}", "interview_id": "int-1",
                             "interview_event_id": None, "form_definition_id": "form-1", "submitted_values": values}))
        elif kind == 3:
            plan = f"p{rnd.randrange(3)}"
            stages = [{"id": f"st{rnd.randrange(6)}", "title": f"t{rnd.randrange(9)}", "type": "Active",
                       "orderInInterviewPlan": k, **({"interviewPlanId": f"p{rnd.randrange(3)}"}
                                                     if rnd.random() < 0.3 else {})}
                      for k in range(rnd.randrange(4))]
            out.append(("InterviewPlanSynced", 1, plan, "ashby", at(),
                        {"record_id": plan, "data": {"id": plan, "title": f"Plan {rnd.randrange(9)}", "stages": stages}}))
        elif kind == 4:
            form = f"form{rnd.randrange(2)}"
            fields = [{"field": {"path": f"q{rnd.randrange(3)}", "title": f"Q{rnd.randrange(9)}", "type": "Score",
                                 "selectableValues": rnd.choice((None, [{"label": "yes", "value": "yes"}]))},
                       "isRequired": rnd.random() < 0.5} for _ in range(rnd.randrange(4))]
            data = {"id": rnd.choice((form, form, "form-other")), "formDefinition": {"sections": [{"fields": fields}]}}
            out.append(("FeedbackFormSynced", 1, form, "ashby", at(), {"record_id": form, "data": data}))
        elif kind == 5:
            user = f"u{rnd.randrange(3)}"
            out.append(("UserSynced", 1, user, "ashby", at(), {"record_id": user, "data": {"id": user, "n": rnd.random()}}))
        else:  # not for either model
            out.append(("AshbyWebhookReceived", 1, "x", "ashby", at(), {"action": "ping"}))
        if rnd.random() < 0.1:  # re-sent under another event id
            out.append(out[-1])
    return out


async def table_rows(conn, tables) -> dict[str, list]:
    return {t: sorted(tuple(r) for r in await conn.fetch(f"SELECT * FROM public.{t}")) for t in tables}


async def project_live(pool, rnd: random.Random, max_batch: int) -> None:
    """What the live projector does: each model's handler, batch by batch (random sizes), in stream order."""
    from projectors.rebuild import _delivered

    async with pool.acquire() as conn:
        rows = [_delivered(r) for r in await conn.fetch(f"SELECT {LOG_COLUMNS} FROM event_log ORDER BY stream_seq")]
        while rows:
            size = rnd.randrange(1, max_batch + 1)
            batch, rows = rows[:size], rows[size:]
            async with conn.transaction():
                for model in MODELS.values():
                    await model.handler(conn, [d for d in batch if d.envelope.event_type in model.event_types])


async def test_the_bulk_load_writes_the_rows_the_handlers_write_batch_by_batch(infra):
    from runtime.db import create_pool, migrate

    pool = await create_pool(infra.database_url, max_size=4)
    try:
        await migrate(pool)
        rnd = random.Random(11)
        history = tangled_history(rnd, 1500)
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("event_log", columns=LOG, records=[
                (seq, f"e{seq}", kind, version, key, source, at, at, None, None, payload)
                for seq, (kind, version, key, source, at, payload) in enumerate(history, 1)])
        await project_live(pool, rnd, max_batch=40)
        async with pool.acquire() as conn:
            live = {name: await table_rows(conn, m.tables) for name, m in MODELS.items()}
        # the history is as tangled as intended: every table has rows, some of them settled by ties
        assert all(rows for tables in live.values() for rows in tables.values())
        for name, model in MODELS.items():
            report = await rebuild(pool, name, batch_size=7)
            assert report.bulk_load and report.switched and report.differences == []
            async with pool.acquire() as conn:
                assert await table_rows(conn, model.tables) == live[name]
    finally:
        await pool.close()


async def test_a_key_the_fold_cannot_settle_falls_back_to_the_handlers(infra):
    """Two schedules listing the same interview event: the handlers move the row to whichever was
    written last; the bulk load's COPY refuses the repeated key, and the handlers do step 1."""
    from runtime.db import create_pool, migrate

    pool = await create_pool(infra.database_url, max_size=4)
    try:
        await migrate(pool)
        events = [{"schedule": {"id": sid, "applicationId": "a1", "interviewStageId": "st1", "status": "Scheduled",
                                "updatedAt": "2026-11-01T09:00:00Z",
                                "interviewEvents": [{"id": "ev-shared", "interviewers": [{"id": "u1"}]}]}}
                  for sid in ("s1", "s2", "s1")]
        async with pool.acquire() as conn:
            await conn.copy_records_to_table("event_log", columns=LOG, records=[
                (seq, f"e{seq}", "InterviewScheduleUpdated", 1, "k", "ashby", T0, T0, None, None, payload)
                for seq, payload in enumerate(events, 1)])
        await project_live(pool, random.Random(1), max_batch=1)
        report = await rebuild(pool, "schedules", batch_size=1)
        assert not report.bulk_load and report.switched and report.differences == []
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT schedule_id FROM interview_events WHERE interview_event_id = 'ev-shared'") == "s1"
    finally:
        await pool.close()

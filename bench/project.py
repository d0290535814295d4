"""Projection benchmark: N events pre-published to EVENTS, then consumed into Postgres two ways.

(a) raw: one nats-py pull consumer fetching batches (the next fetched while one is written),
    upserting each event as a row (executemany) plus a checkpoint in one transaction per batch,
    acking after commit — the floor cost of "fetch → upsert → ack".
(b) ours: the real `autoadvance worker projectors` process (its own process, as in production)
    with every projector durable consumer of that role, from scratch until every checkpoint
    reaches the last sequence and JetStream reports no pending or unacked message.

The events are what ingest and the poller publish: 80% schedule webhooks, 15% feedback
submissions, 5% application snapshots (~1.5 KB envelopes).

    .venv/bin/python bench/project.py [--quick] [--events N] [--batch 256]

Ends with `RESULT projection_events_per_s`, `RESULT raw_events_per_s`, `RESULT projection_ratio_to_raw`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta

import _common as c
import asyncpg
import nats
import orjson
import uvloop
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.envelope import Envelope
from contracts.events import ApplicationSnapshotted, FeedbackSubmitted
from contracts.ids import derive_id
from ingest.webhook import to_envelope

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def envelope(n: int) -> Envelope:
    """The n-th event of the generated history (deterministic)."""
    now = T0 + timedelta(seconds=n)
    kind = n % 20
    if kind < 16:
        env = to_envelope(c.webhook_body(n), now)
        assert env is not None
        return env
    app = f"app-{n % 5000:06d}"
    if kind < 19:
        submitted = now.isoformat().replace("+00:00", "Z")
        payload = FeedbackSubmitted(
            feedback_id=f"fb-{n}", application_id=app, submitted_at=submitted, submitted_by_user_id=f"user-{n % 300}",
            interview_id=f"interview-{n % 4}", interview_event_id=f"ev-sched-{app}-{n % 3}",
            form_definition_id="form-1", submitted_values={"overall": n % 5, "culture": "yes", "notes": "x" * 200},
            raw={"id": f"fb-{n}", "submittedAt": submitted}).model_dump()
        return Envelope(event_id=derive_id("feedback", f"fb-{n}", submitted), event_type="FeedbackSubmitted",
                        key=app, occurred_at=now, recorded_at=now, source="ashby", payload=payload)
    payload = ApplicationSnapshotted(
        application_id=app, candidate_id=f"cand-{app}", job_id=f"job-{n % 40}", interview_plan_id=f"plan-{n % 8}",
        current_stage_id=f"stage-{n % 4}", status="Active", hiring_team=[{"userId": f"user-{n % 300}",
                                                                           "role": "Recruiter"}],
        fetched_at=now.isoformat(), raw={"id": app}).model_dump()
    return Envelope(event_id=derive_id("app-snapshot", app, n), event_type="ApplicationSnapshotted", key=app,
                    occurred_at=now, recorded_at=now, source="ashby", payload=payload)


async def prepublish(nats_url: str, count: int) -> int:
    """Publish `count` events, 512 in flight, each with its Nats-Msg-Id; returns the last sequence."""
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    last = 0
    try:
        for start in range(0, count, 512):
            acks = []
            for n in range(start, min(count, start + 512)):
                env = envelope(n)
                acks.append(js.publish(subjects.event_subject(env.source, env.event_type, env.key), env.to_bytes(),
                                       headers=env.headers(), timeout=30))
            for ack in await asyncio.gather(*acks):
                last = max(last, ack.seq)
    finally:
        await nc.close()
    return last


async def raw_consume(nats_url: str, pg_url: str, count: int, batch: int) -> float:
    """The floor: fetch → executemany upsert + checkpoint in one transaction → ack; events/s."""
    conn = await asyncpg.connect(pg_url)
    await conn.execute("""CREATE TABLE bench_raw_events (event_id text PRIMARY KEY, event_type text NOT NULL,
                              key text NOT NULL, stream_seq bigint NOT NULL, envelope jsonb NOT NULL);
                          CREATE TABLE bench_raw_checkpoint (consumer text PRIMARY KEY, stream_seq bigint NOT NULL)""")
    nc = await nats.connect(nats_url, pending_size=64 * 1024 * 1024)
    js = nc.jetstream()
    config = ConsumerConfig(durable_name="bench-raw", ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                            max_ack_pending=batch * 4, ack_wait=30)
    psub = await js.pull_subscribe(subjects.EVENTS_ALL, durable="bench-raw", stream=subjects.EVENTS_STREAM,
                                   config=config)

    async def fetch():
        try:
            return await psub.fetch(batch, timeout=1.0)
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    done = 0
    started = None
    pending = asyncio.create_task(fetch())
    while done < count:
        msgs = await pending
        pending = asyncio.create_task(fetch())
        if not msgs:
            continue
        if started is None:
            started = time.perf_counter()
        rows = []
        for m in msgs:
            doc = orjson.loads(m.data)
            rows.append((doc["event_id"], doc["event_type"], doc["key"], m.metadata.sequence.stream, m.data.decode()))
        async with conn.transaction():
            await conn.executemany(
                """INSERT INTO bench_raw_events (event_id, event_type, key, stream_seq, envelope)
                   VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (event_id) DO UPDATE
                   SET stream_seq = EXCLUDED.stream_seq, envelope = EXCLUDED.envelope""", rows)
            await conn.execute("""INSERT INTO bench_raw_checkpoint VALUES ('bench-raw', $1) ON CONFLICT (consumer)
                                  DO UPDATE SET stream_seq = EXCLUDED.stream_seq""", rows[-1][3])
        for m in msgs:
            await m.ack()
        done += len(msgs)
    elapsed = time.perf_counter() - (started or time.perf_counter())
    pending.cancel()
    await asyncio.gather(pending, return_exceptions=True)
    await nc.close()
    await conn.close()
    return done / elapsed if elapsed else float("nan")


async def projector_durables(nats_url: str) -> list[str]:
    from projectors.subscribers import subscriptions

    return [s.durable for s in subscriptions() if s.transactional]


async def watch_projectors(nats_url: str, pg_url: str, durables: list[str], last_seq: int,
                           timeout: float) -> tuple[float, int, float, int]:
    """Poll checkpoints: (seconds from the moment every consumer committed its first batch until every
    one reached `last_seq`, events counted over that span, seconds from process start to done,
    messages delivered to all the consumers together)."""
    conn = await asyncpg.connect(pg_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    spawned = time.perf_counter()
    first_at, first_min = None, 0
    try:
        while time.perf_counter() - spawned < timeout:
            rows = await conn.fetch("SELECT consumer, stream_seq FROM consumer_checkpoints WHERE consumer = ANY($1)",
                                    durables)
            seqs = {r["consumer"]: r["stream_seq"] for r in rows}
            now = time.perf_counter()
            if first_at is None and len(seqs) == len(durables):
                first_at, first_min = now, min(seqs.values())
            if first_at is not None and max(seqs.values()) >= last_seq:
                # a filtered consumer's checkpoint stops at its own last event: zero lag is JetStream's word,
                # and with acks only after commit it means every event is committed
                infos = [await js.consumer_info(subjects.EVENTS_STREAM, d) for d in durables]
                if all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos):
                    return (now - first_at, last_seq - first_min, now - spawned,
                            sum(i.delivered.consumer_seq for i in infos))
            await asyncio.sleep(0.02)
        raise TimeoutError(f"projectors did not catch up within {timeout}s: {seqs}")
    finally:
        await nc.close()
        await conn.close()


async def read_model_counts(pg_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(pg_url)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}")  # noqa: S608 - fixed table names
                for t in ("event_log", "interview_schedules", "feedback_submissions", "applications")}
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 events instead of 100,000")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--batch", type=int, default=256, help="batch size for both (CONSUMER_BATCH_SIZE)")
    parser.add_argument("--profile", metavar="PATH", help="run the projectors process under cProfile into PATH")
    args = parser.parse_args()
    count = args.events or (20_000 if args.quick else 100_000)

    with c.embedded_infra("autoadvance-bench-project-") as infra:
        env = infra.env(CONSUMER_BATCH_SIZE=str(args.batch), LOG_LEVEL="INFO")
        log = infra.folder / "worker.log"
        migrate = c.subprocess.run(c.autoadvance_command() + ["migrate"], env=env, capture_output=True, text=True,
                                   cwd=str(c.ROOT), check=False)
        if migrate.returncode != 0:
            raise RuntimeError(f"autoadvance migrate failed:\n{migrate.stdout[-2000:]}{migrate.stderr[-2000:]}")
        t = time.perf_counter()
        last_seq = asyncio.run(prepublish(infra.nats.url, count))
        print(f"project: {count} events published to EVENTS in {time.perf_counter() - t:.1f} s (last seq {last_seq}); "
              f"batch {args.batch}", flush=True)

        raw = uvloop.run(raw_consume(infra.nats.url, infra.pg.url, count, args.batch))
        print(f"raw: {raw:.0f} events/s (fetch → executemany upsert + checkpoint, one tx per batch → ack)", flush=True)

        durables = asyncio.run(projector_durables(infra.nats.url))
        pids = {"nats-server": infra.nats._proc.pid}
        before = {"nats-server": c.cpu_seconds(pids["nats-server"])}
        with c.service_process(["worker", "projectors"], env, log, args.profile) as proc:
            pids["projectors"] = proc.pid
            wall0 = time.perf_counter()
            span, counted, total, deliveries = asyncio.run(
                watch_projectors(infra.nats.url, infra.pg.url, durables, last_seq, timeout=max(120.0, count / 200)))
            wall = time.perf_counter() - wall0
            cpu = {"projectors": c.cpu_seconds(proc.pid) / wall,
                   "nats-server": (c.cpu_seconds(pids["nats-server"]) - before["nats-server"]) / wall}
        counts = asyncio.run(read_model_counts(infra.pg.url))

    ours = counted / span if span else float("nan")
    ratio = ours / raw if raw else float("nan")
    per_event = deliveries / last_seq if last_seq else float("nan")
    print(f"ours: {ours:.0f} events/s through {len(durables)} durable consumers ({', '.join(durables)}); "
          f"{total:.1f} s from process start to zero lag")
    print(f"each event is delivered to {per_event:.2f} consumers on average ({deliveries} deliveries), so ours "
          f"handles {ours * per_event:.0f} deliveries/s where raw handles one delivery per event")
    print("CPU during ours (1.0 = one core of 2): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(f"read models: {counts}")
    if counts["event_log"] != count:
        print(f"WARNING: event_log has {counts['event_log']} rows for {count} events", file=sys.stderr)
    c.result("projection_events_per_s", ours, "1/s")
    c.result("raw_events_per_s", raw, "1/s")
    c.result("projection_ratio_to_raw", ratio, "ratio")
    c.result("projection_deliveries_per_s", ours * per_event, "1/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

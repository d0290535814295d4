"""Ashby load: requests an hour and feedback latency with N applications waiting on feedback, and
nothing lost when the sandbox Ashby throttles at half the offered load.

Part 1 runs the real poller (sync pass + targeted decaying checks, real HTTP to the sandbox Ashby,
real NATS + Postgres) in virtual time: the clock advances in 0.5 s steps and every request the
poller would make in that time is made and counted at the sandbox, so the count is honest while an
hour takes seconds. Feedback arrives at random (each application gets its scorecards within about a
day); interviews end at the same rate (each one starts targeted checks). Latency is virtual: from
submission to the FeedbackSubmitted event, to the 0.5 s step (processing adds milliseconds).
Part 2 runs in real time: the budget offers R requests/s, the sandbox allows R/2 and answers 429;
writes (stage changes) and polling compete; every write must land and every feedback be published.

    .venv/bin/python bench/ashby_load.py [--quick]

Ends with `RESULT ashby_requests_per_hour_1000_waiting`, `RESULT feedback_p95_s`, `RESULT lost_under_429`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import embedded_infra, percentile  # noqa: E402
from contracts.envelope import Envelope  # noqa: E402
from ingest import store  # noqa: E402
from ingest.ashby_budget import Prioritised, Priority, RequestBudget  # noqa: E402
from ingest.ashby_client import AshbyClient, AshbyUnavailable  # noqa: E402
from ingest.poller import AshbyPoller  # noqa: E402
from ingest.polling import Decay, after_feedback_poll, on_event  # noqa: E402
from runtime.app import open_services  # noqa: E402
from runtime.logging import configure_logging  # noqa: E402
from runtime.settings import Settings  # noqa: E402
from sandbox.ashby import SandboxAshby, iso  # noqa: E402
from sandbox.ashby_limit import RateLimit  # noqa: E402
from sandbox.scenarios import base_scenario, stage, technical_schedule  # noqa: E402

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
STEP_S = 0.5
SYNC_S, FIRST_S, CEILING_S, WINDOW_S = 2.0, 15.0, 300.0, 1800.0  # the defaults of runtime/settings.py
DECAY = Decay.of_seconds(FIRST_S, CEILING_S, WINDOW_S)
WAIT_S = 24 * 3600.0  # an application waits about a day for its scorecards


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


class Recorder:
    """The event sink: publishes to JetStream and notes the virtual time each feedback first appeared."""

    def __init__(self, publisher, clock: Clock) -> None:
        self.publisher, self.clock, self.seen = publisher, clock, {}

    async def publish_event(self, env: Envelope) -> tuple[int, bool]:
        if env.event_type == "FeedbackSubmitted":
            self.seen.setdefault(env.payload["feedback_id"], self.clock.t)
        return await self.publisher.publish_event(env)


def schedule_event(sandbox: SandboxAshby, app_id: str, n: int, at: datetime) -> Envelope:
    """The InterviewScheduleUpdated a webhook would bring when an interview ends."""
    sched = sandbox.set_schedule(f"s-{app_id}-{n}", app_id, "WaitingOnFeedback",
                                 technical_schedule("x", app_id, "x")["interviews"])
    sched = {**sched, "updatedAt": iso(at)}
    return Envelope(event_id=f"bench-{app_id}-{n}", event_type="InterviewScheduleUpdated", key=app_id,
                    occurred_at=at, recorded_at=at, source="ashby", payload={"action": "x", "schedule": sched})


async def waiting_load(services, n_apps: int, hours: float, rng: random.Random) -> tuple[float, list[float]]:
    clock = Clock()
    sandbox = SandboxAshby(page_size=100, clock=clock.now)
    await sandbox.start()
    client = AshbyClient(sandbox.base_url, sandbox.api_key, budget=RequestBudget(1e9, 10**9))  # count, not pace
    sink = Recorder(services.publisher, clock)
    poller = AshbyPoller(client, sink, services.pool, feedback_interval_s=SYNC_S, decay=DECAY,
                         metadata_interval_s=3600, clock=clock.now)
    try:
        async with services.pool.acquire() as conn:
            await conn.execute("TRUNCATE poll_watch, poller_cursors")
        ids = list(sandbox.load_scenario(base_scenario(
            [{"key": f"w{i}", "candidate": f"C{i}", "job": "backend", "stage": "technical"}
             for i in range(n_apps)]))["applications"].values())
        decidable = frozenset({stage("technical")})
        async with services.pool.acquire() as conn:  # interviews that ended over the last day, fast-forwarded
            for app_id in ids:
                ended = T0 - timedelta(seconds=rng.uniform(0, WAIT_S))
                w = on_event(None, schedule_event(sandbox, app_id, 0, ended), ended, DECAY, decidable)
                w = replace(w, snapshot_needed=False, snapshot_stage_id=stage("technical"))
                while w.feedback_due and w.feedback_at and w.feedback_at <= T0:
                    w = after_feedback_poll(w, set(), w.feedback_at, DECAY)
                await store.save_watch(conn, replace(w, next_poll_at=w.feedback_at if w.feedback_due else None))
        await poller.sync_feedback_once()  # the stored token, as a running poller has it
        rate_per_s = n_apps / WAIT_S
        duration = hours * 3600
        arrivals = sorted(rng.uniform(0, duration) for _ in range(max(1, round(rate_per_s * duration))))
        ends = sorted(rng.uniform(0, duration) for _ in range(len(arrivals)))
        submitted: dict[str, float] = {}
        calls_before, next_sync, n = len(sandbox.calls), SYNC_S, 0
        while clock.t < duration:
            clock.t += STEP_S
            while arrivals and arrivals[0] <= clock.t:
                arrivals.pop(0)
                app_id = rng.choice(ids)
                n += 1
                for user in ("ivan", "iris"):
                    fb = sandbox.submit_feedback(f"f{n}-{user}", app_id, "technical", user,
                                                 {"overall_recommendation": 3})
                    submitted[fb["id"]] = clock.t
            while ends and ends[0] <= clock.t:
                ends.pop(0)
                app_id = rng.choice(ids)
                n += 1
                async with services.pool.acquire() as conn:
                    w = on_event(await store.load_watch(conn, app_id), schedule_event(sandbox, app_id, n, clock.now()),
                                 clock.now(), DECAY, decidable)
                    await store.save_watch(conn, w)
            if clock.t >= next_sync:
                await poller.sync_feedback_once()
                next_sync += SYNC_S
            while await poller.poll_due_once(limit=256):
                pass
        requests_per_hour = (len(sandbox.calls) - calls_before) / hours
        latencies = [sink.seen[f] - at for f, at in submitted.items() if f in sink.seen]
        missing = len(submitted) - len(latencies)
        endpoints: dict[str, int] = {}
        for c in sandbox.calls[calls_before:]:
            kind = c["endpoint"] + (" (one application)" if (c["body"] or {}).get("applicationId") else "")
            endpoints[kind] = endpoints.get(kind, 0) + 1
        print(f"  {n_apps:>6} waiting: {requests_per_hour:7.0f} req/h ({requests_per_hour / 3600:.2f}/s)  "
              f"feedback p95 {percentile(sorted(latencies), 0.95):.1f} s over {len(latencies)} scorecards"
              f"{f', {missing} NOT FOUND' if missing else ''}  by endpoint/h: "
              + ", ".join(f"{k} {v / hours:.0f}" for k, v in sorted(endpoints.items())), flush=True)
        return requests_per_hour, latencies + [float("inf")] * missing
    finally:
        await client.aclose()
        await sandbox.stop()


async def throttled_run(services, seconds: float, rate: float) -> tuple[int, dict]:
    """Real time: budget offers `rate`/s, the sandbox allows `rate / 2`; polls and writes compete."""
    sandbox = SandboxAshby(page_size=25, rate_limit=RateLimit(rate / 2, burst=max(1, round(rate / 4))))
    await sandbox.start()
    budget = RequestBudget(rate, max(1, round(rate / 2)))
    client = AshbyClient(sandbox.base_url, sandbox.api_key, budget=budget, max_retries=3, backoff_base=0.05)
    clock = Clock()
    sink = Recorder(services.publisher, clock)
    poller = AshbyPoller(client, sink, services.pool, feedback_interval_s=0.2,
                         decay=Decay.of_seconds(0.2, 0.5, 3600), metadata_interval_s=1)
    stop = asyncio.Event()
    try:
        async with services.pool.acquire() as conn:
            await conn.execute("TRUNCATE poll_watch, poller_cursors")
        ids = list(sandbox.load_scenario(base_scenario(
            [{"key": f"t{i}", "candidate": f"T{i}", "job": "backend", "stage": "technical"}
             for i in range(200)]))["applications"].values())
        decidable = frozenset({stage("technical")})
        async with services.pool.acquire() as conn:
            for app_id in ids:
                now = datetime.now(UTC)
                await store.save_watch(conn, on_event(None, schedule_event(sandbox, app_id, 0, now), now,
                                                      poller.decay, decidable))
        loops = [asyncio.create_task(loop(stop)) for loop in (poller.run_watches, poller.run_feedback_sync,
                                                                poller.run_metadata)]
        writer = Prioritised(client, Priority.WRITE)
        onsite, submitted, commands = stage("onsite"), [], ids[:40]

        async def command(app_id: str) -> None:
            while True:  # as the executor: a transient failure is retried (a 429 was not applied)
                try:
                    await writer.call("application.changeStage", {"applicationId": app_id,
                                                                  "interviewStageId": onsite})
                    return
                except AshbyUnavailable:
                    await asyncio.sleep(0.5)

        writes = []
        start = time.monotonic()
        for i in range(int(seconds * 4)):
            await asyncio.sleep(0.25)
            app_id = ids[i % len(ids)]
            fb = sandbox.submit_feedback(f"load-{i}", app_id, "technical", "ivan", {"overall_recommendation": 3})
            submitted.append(fb["id"])
            if i % 2 == 0 and commands:
                writes.append(asyncio.create_task(command(commands.pop())))
        await asyncio.wait_for(asyncio.gather(*writes), 120)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(f in sink.seen for f in submitted):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        elapsed = time.monotonic() - start
        lost_feedback = sum(f not in sink.seen for f in submitted)
        moved = {c["body"]["applicationId"] for c in sandbox.calls
                 if c["endpoint"] == "application.changeStage" and c.get("status") == 200}
        lost_commands = len(writes) - len(moved)
        stats = budget.stats()
        offered = len(sandbox.calls) / elapsed
        limited = sum(c.get("status") == 429 for c in sandbox.calls)
        print(f"  throttled: {len(sandbox.calls)} requests in {elapsed:.0f} s ({offered:.1f}/s sent; the budget offers {rate:g}/s, the sandbox "
              f"allows {rate / 2:g}/s), {limited} answered 429; {len(writes)} writes, {len(submitted)} scorecards; "
              f"lost feedback {lost_feedback}, lost commands {lost_commands}; mean wait: "
              + ", ".join(f"{p} {w['mean']:.2f} s" for p, w in stats["wait_s"].items() if w["count"]), flush=True)
        return lost_feedback + lost_commands, stats
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        await client.aclose()
        await sandbox.stop()


async def main_async(quick: bool) -> int:
    configure_logging("console", "ERROR")  # the throttled part logs every 429 otherwise
    with embedded_infra("autoadvance-bench-ashby-") as infra:
        services = await open_services(Settings(nats_url=infra.nats.url, database_url=infra.pg.url,
                                                data_dir=infra.folder / "data"))
        try:
            hours = 0.1 if quick else 1.0
            rng = random.Random(16)
            print(f"part 1: virtual time, {hours * 60:.0f} virtual minutes each (sync pass every {SYNC_S:g} s, "
                  f"targeted checks {FIRST_S:g} s doubling to {CEILING_S:g} s for {WINDOW_S:g} s)", flush=True)
            results = {n: await waiting_load(services, n, hours, rng) for n in (100, 1000, 10000)}
            print("part 2: real time, sandbox rate limit at half the budget's rate", flush=True)
            lost, stats = await throttled_run(services, 8 if quick else 20, rate=20.0)
        finally:
            await services.close()
    latencies = sorted(lat for _, lats in results.values() for lat in lats)
    ratio = results[10000][0] / results[100][0]
    print(f"requests/h grow {ratio:.1f}x from 100 to 10,000 waiting (100x the applications); "
          f"writes waited {stats['wait_s']['write']['mean']:.2f} s on average, polls "
          f"{stats['wait_s']['poll']['mean']:.2f} s")
    print(f"RESULT ashby_requests_per_hour_1000_waiting {results[1000][0]:.0f} req/h")
    print(f"RESULT feedback_p95_s {percentile(latencies, 0.95):.2f} s")
    print(f"RESULT lost_under_429 {lost}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 virtual minutes per size, 8 s throttled")
    return asyncio.run(main_async(parser.parse_args().quick))


if __name__ == "__main__":
    sys.exit(main())

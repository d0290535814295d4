"""Decision latency: the last required feedback event is stored → the command is on COMMANDS.

Embedded NATS + Postgres; the evaluator runs as in production (`autoadvance worker evaluator` in
its own process, with its outbox relay and timers), the HTTP role beside it for activating the rule
set (quiet period 0). For each application the bench first stores its facts (plan, snapshot,
schedule with two interviewers, the first scorecard), then — at a steady rate — the second,
passing scorecard, and times it from the publish to the advance command arriving on COMMANDS.

    .venv/bin/python bench/decision_latency.py [--quick] [--apps N] [--rate R]

Ends with `RESULT decision_latency_p99_s <value> s` (target: under 1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import nats

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _common as c  # noqa: E402

from contracts import subjects  # noqa: E402
from contracts.envelope import Envelope  # noqa: E402
from contracts.ids import derive_id  # noqa: E402
from ingest.ashby_events import application_envelope, feedback_envelope, metadata_envelope  # noqa: E402

PLAN, STAGE, NEXT, INTERVIEW = "plan-bench", "stage-technical", "stage-onsite", "interview-technical"
RULES = {"name": "bench", "defaults": {"quiet_period": "0s", "timeout": "7d"}, "rules": [{
    "id": "technical", "interview_plan_id": PLAN, "stage_id": STAGE,
    "requirements": [{"interview_id": INTERVIEW, "field": "overall", "operator": ">=", "threshold": 3}],
    "on_pass": {"action": "advance"},
    "on_fail": {"action": "propose_rejection", "archive_reason_id": "reason-bench"}}]}


def now() -> datetime:
    return datetime.now(UTC)


def facts(app: str) -> list[Envelope]:
    t = now().isoformat()
    info = {"id": app, "status": "Active", "updatedAt": t, "candidate": {"id": f"cand-{app}"}, "job": {"id": "job"},
            "currentInterviewStage": {"id": STAGE, "interviewPlanId": PLAN}, "hiringTeam": []}
    people = [{"id": u, "isFeedbackRequired": True} for u in ("u1", "u2")]
    schedule = {"id": f"s-{app}", "status": "WaitingOnFeedback", "applicationId": app, "interviewStageId": STAGE,
                "createdAt": t, "updatedAt": t,
                "interviewEvents": [{"id": f"ev-{app}", "interviewId": INTERVIEW, "interviewScheduleId": f"s-{app}",
                                     "interviewerUserIds": ["u1", "u2"], "interviewers": people}]}
    return [application_envelope(info, now()),
            Envelope(event_id=derive_id("bench-schedule", app), event_type="InterviewScheduleUpdated", key=app,
                     occurred_at=now(), recorded_at=now(), source="ashby",
                     payload={"action": "interviewScheduleUpdate", "schedule": schedule}),
            scorecard(app, "u1")]


def scorecard(app: str, user: str) -> Envelope:
    return feedback_envelope({"id": f"fb-{app}-{user}", "applicationId": app, "submittedAt": now().isoformat(),
                              "submittedByUser": {"id": user}, "interviewId": INTERVIEW,
                              "interviewEventId": f"ev-{app}", "formDefinition": {"id": "form"},
                              "submittedValues": {"overall": 4}}, now())


async def publish(js, env: Envelope) -> None:
    await js.publish(subjects.event_subject(env.source, env.event_type, env.key), env.to_bytes(),
                     headers={"Nats-Msg-Id": env.event_id})


def api(port: int, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {c.ADMIN_TOKEN}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


async def settled(js, durable: str) -> bool:
    info = await js.consumer_info(subjects.EVENTS_STREAM, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def measure(nats_url: str, port: int, apps: int, rate: float) -> list[float]:
    version = (await asyncio.to_thread(api, port, "POST", "/api/rulesets", RULES))["version"]
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    arrived: dict[str, float] = {}
    all_arrived = asyncio.Event()

    async def on_command(msg) -> None:
        body = json.loads(msg.data)
        if body["event_type"] == "AdvanceApplication":
            arrived.setdefault(body["key"], time.monotonic())
            if len(arrived) >= apps:
                all_arrived.set()

    sub = await js.subscribe(subjects.COMMANDS_ALL, cb=on_command, ordered_consumer=True)
    try:
        deadline = time.monotonic() + 30
        while (await asyncio.to_thread(api, port, "GET", "/api/rulesets"))["active_version"] != version:
            if time.monotonic() > deadline:
                sys.exit("the rule set did not become active")
            await asyncio.sleep(0.1)
        await publish(js, metadata_envelope("interview_plan", {"id": PLAN, "title": "Bench", "stages": [
            {"id": STAGE, "title": "Technical", "type": "Active", "orderInInterviewPlan": 1, "interviewPlanId": PLAN},
            {"id": NEXT, "title": "Onsite", "type": "Active", "orderInInterviewPlan": 2, "interviewPlanId": PLAN},
        ]}, now()))
        names = [f"app-{i}" for i in range(apps)]
        for name in names:
            for env in facts(name):
                await publish(js, env)
        deadline = time.monotonic() + 120
        while not await settled(js, "evaluator-decisions-v1"):
            if time.monotonic() > deadline:
                sys.exit("the evaluator did not take in the first facts")
            await asyncio.sleep(0.2)
        print(f"{apps} applications waiting on their last scorecard; sending them at {rate:g}/s", flush=True)
        sent: dict[str, float] = {}
        start = time.monotonic()
        for i, name in enumerate(names):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            env = scorecard(name, "u2")
            sent[name] = time.monotonic()
            await publish(js, env)
        try:
            await asyncio.wait_for(all_arrived.wait(), 60)
        except TimeoutError:
            pass
        missing = [n for n in names if n not in arrived]
        if missing:
            sys.exit(f"{len(missing)} commands never arrived (e.g. {missing[:3]})")
        return [arrived[n] - sent[n] for n in names]
    finally:
        await sub.unsubscribe()
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 applications instead of 500")
    parser.add_argument("--apps", type=int, default=None)
    parser.add_argument("--rate", type=float, default=50.0, help="last scorecards per second")
    args = parser.parse_args()
    apps = args.apps or (100 if args.quick else 500)
    with c.embedded_infra("autoadvance-bench-decision-") as infra:
        port = c.free_port()
        env = infra.env(HTTP_PORT=str(port))
        log = infra.folder / "service.log"
        with c.service_process(["http"], env, log) as http, c.service_process(["worker", "evaluator"], env, log):
            c.wait_http(f"http://127.0.0.1:{port}/health", http, log)
            latencies = sorted(asyncio.run(measure(infra.nats.url, port, apps, args.rate)))
    print(f"decisions {len(latencies)}  p50 {c.percentile(latencies, 0.5) * 1000:.0f} ms  "
          f"p95 {c.percentile(latencies, 0.95) * 1000:.0f} ms  p99 {c.percentile(latencies, 0.99) * 1000:.0f} ms  "
          f"max {latencies[-1] * 1000:.0f} ms")
    print(f"RESULT decision_latency_p99_s {c.percentile(latencies, 0.99):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

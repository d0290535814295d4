"""Feedback latency: an interviewer submits feedback in (sandbox) Ashby → it is in our read model.

Ashby sends no webhook for feedback, so this is the poller's job (its sync pass). The service runs exactly as
`make run` runs it (`autoadvance dev` in its own process: embedded NATS + Postgres, sandbox Ashby
and Slack, default settings). Each application's schedule reaches `WaitingOnFeedback` (a signed
webhook from the sandbox), then its interviewers submit feedback at random moments over the run;
for each submission we poll `GET /api/applications/{id}` until the feedback shows up.

    .venv/bin/python bench/feedback_latency.py [--quick] [--apps N] [--seconds S]

Ends with `RESULT feedback_latency_p95_s <value> s` (the seed app polled every 30 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.scenarios import base_scenario, technical_schedule  # noqa: E402

INTERVIEWERS = ("ivan", "iris")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def wait_for(what: str, probe, timeout: float, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the service exited ({proc.returncode}) while waiting for {what}; see {log}")
        try:
            found = await probe()
        except (httpx.HTTPError, OSError, ValueError):
            found = None
        if found:
            return found
        await asyncio.sleep(0.1)
    sys.exit(f"timed out waiting for {what}; see {log}")


async def run(apps: int, seconds: float, data_dir: Path) -> list[float]:
    port = free_port()
    log = data_dir / "service.log"
    env = {**os.environ, "DATA_DIR": str(data_dir), "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING",
           "LOG_FORMAT": "json"}
    for name in ("NATS_URL", "DATABASE_URL", "ASHBY_API_KEY", "SLACK_BOT_TOKEN"):
        env.pop(name, None)
    exe = Path(sys.executable).with_name("autoadvance")
    command = [str(exe), "dev"] if exe.exists() else [sys.executable, "-m", "runtime.cli", "dev"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        sandbox_file = data_dir / "sandbox.json"
        await wait_for("the service to start", lambda: _exists(sandbox_file), 120, proc, log)
        info = json.loads(sandbox_file.read_text())
        token = (data_dir / "admin_token").read_text().strip()
        async with httpx.AsyncClient(base_url=info["http"], headers={"Authorization": f"Bearer {token}"},
                                     timeout=10, trust_env=False) as api, \
                httpx.AsyncClient(base_url=info["ashby"], timeout=10, trust_env=False) as ashby:
            await wait_for("/health", lambda: _healthy(api), 60, proc, log)
            keys = [f"bench-{i}" for i in range(apps)]
            loaded = await ashby.post("/_sandbox/scenario", json=base_scenario(
                [{"key": k, "candidate": f"Candidate {i}", "job": "backend", "stage": "technical"}
                 for i, k in enumerate(keys)]))
            ids = loaded.json()["ids"]["applications"]
            for key in keys:
                schedule = technical_schedule(f"s-{key}", ids[key], "WaitingOnFeedback")
                (await ashby.post("/_sandbox/schedules", json=schedule)).raise_for_status()
            for key in keys:  # the webhook arrived and the application is known
                await wait_for("the schedules", lambda key=key: _has_schedule(api, ids[key]), 60, proc, log)
            print(f"{apps} applications waiting on feedback; submitting {apps * len(INTERVIEWERS)} "
                  f"scorecards over {seconds:.0f} s", flush=True)
            rng = random.Random(7)
            plan = sorted((rng.uniform(0, seconds), key, user) for key in keys for user in INTERVIEWERS)
            start = time.monotonic()
            measures = [asyncio.create_task(_submit_and_measure(api, ashby, ids[key], key, user, start + at, proc,
                                                                log))
                        for at, key, user in plan]
            return await asyncio.gather(*measures)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _exists(path: Path) -> bool:
    return os.path.exists(path)  # noqa: ASYNC240 - one stat call


async def _healthy(api: httpx.AsyncClient) -> bool:
    return (await api.get("/health")).status_code == 200


async def _has_schedule(api: httpx.AsyncClient, app_id: str) -> bool:
    return bool((await api.get(f"/api/applications/{app_id}")).json().get("schedules"))


async def _submit_and_measure(api, ashby, app_id: str, key: str, user: str, when: float, proc, log) -> float:
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    resp = await ashby.post("/_sandbox/feedback", json={"key": f"{key}-{user}", "application": app_id,
                                                        "interview": "technical", "user": user,
                                                        "values": {"overall_recommendation": 3}})
    submitted = time.monotonic()
    feedback_id = resp.json()["feedback"]["id"]

    async def arrived() -> bool:
        doc = (await api.get(f"/api/applications/{app_id}")).json()
        return any(f.get("feedback_id") == feedback_id for f in doc.get("feedback", []))

    await wait_for(f"feedback {feedback_id}", arrived, 120, proc, log)
    return time.monotonic() - submitted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 applications over 15 s")
    parser.add_argument("--apps", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    apps = args.apps or (10 if args.quick else 40)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    data_dir = Path(tempfile.mkdtemp(prefix="autoadvance-bench-feedback-"))
    try:
        latencies = asyncio.run(run(apps, seconds, data_dir))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"submissions {len(latencies)}  p50 {percentile(latencies, 0.5):.2f} s  "
          f"p95 {percentile(latencies, 0.95):.2f} s  max {max(latencies):.2f} s  "
          "(the sync pass, FEEDBACK_POLL_INTERVAL_S, every 2 s by default; the seed app: up to 1800 s)")
    print(f"RESULT feedback_latency_p95_s {percentile(latencies, 0.95):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

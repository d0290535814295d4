"""Two poller processes on real NATS + Postgres: one polls Ashby (it holds the lease); kill -9 it and
the other takes over within the lease time, with every feedback event published once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats

from contracts import subjects
from ingest.lease import LEASE_BUCKET
from sandbox.scenarios import base_scenario
from support import eventually, running_service, stream_messages

LEASE_S = 2.0


def poller_process(infra, sandbox, log: Path) -> subprocess.Popen:
    env = {**os.environ, **infra.env(), "ASHBY_API_URL": sandbox.base_url, "ASHBY_API_KEY": sandbox.api_key,
           "POLLER_LEASE_S": str(LEASE_S), "FEEDBACK_POLL_INTERVAL_S": "0.3", "METADATA_POLL_INTERVAL_S": "3600",
           "ASHBY_MAX_REQUESTS_PER_S": "50", "LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).with_name("autoadvance")
    with log.open("ab") as out:
        return subprocess.Popen([str(exe), "worker", "poller"], env=env, stdout=out, stderr=subprocess.STDOUT)


async def holder_pid(nats_url: str) -> int | None:
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(LEASE_BUCKET)
        entry = await kv.get("poller")
        return int(entry.value.decode().split(":")[1]) if entry.value else None
    except (nats.js.errors.NotFoundError, nats.js.errors.BucketNotFoundError, nats.js.errors.KeyNotFoundError):
        return None
    finally:
        await nc.close()


async def feedback_ids(infra) -> list[str]:
    return [body["payload"]["feedback_id"] for _, _, body in await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
            if body.get("event_type") == "FeedbackSubmitted"]


async def test_killing_the_active_poller_hands_polling_to_the_standby_without_a_gap(infra, sandbox_ashby, tmp_path):
    sandbox_ashby.load_scenario(base_scenario([{"key": "a1", "candidate": "A", "job": "backend",
                                                "stage": "technical"}]))
    async with running_service(infra, roles=[]):  # migrations and streams, then out of the way
        pass
    procs = [poller_process(infra, sandbox_ashby, tmp_path / f"poller-{i}.log") for i in range(2)]
    try:
        active = await eventually(lambda: holder_pid(infra.nats_url), timeout=30, message="nobody took the lease")
        assert active in {p.pid for p in procs}
        sandbox_ashby.submit_feedback("before", "a1", "technical", "ivan", {"overall_recommendation": 3})
        await eventually(lambda: _has(infra, "before"), timeout=15, message="the active poller did not publish")

        os.kill(active, signal.SIGKILL)
        killed_at = time.monotonic()
        sandbox_ashby.submit_feedback("during", "a1", "technical", "iris", {"overall_recommendation": 4})
        standby = await eventually(lambda: _other_holder(infra, active), timeout=LEASE_S * 4,
                                   message="the standby did not take the lease")
        took_over = time.monotonic() - killed_at
        await eventually(lambda: _has(infra, "during"), timeout=10, message="feedback lost in the hand-over")
        sandbox_ashby.submit_feedback("after", "a1", "technical", "rita", {"overall_recommendation": 2})
        await eventually(lambda: _has(infra, "after"), timeout=10, message="the new poller did not publish")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
    assert standby != active and took_over < LEASE_S * 3  # the lease time plus one renewal step
    logs = "".join((tmp_path / f"poller-{i}.log").read_text() for i in range(2))
    assert "loop_crashed" not in logs and "lease_lost" not in logs  # renewals held until the kill
    ids = await feedback_ids(infra)
    assert sorted(ids) == sorted(f["id"] for f in sandbox_ashby.data["feedback"].values())  # each once


async def _has(infra, key: str) -> bool:
    from sandbox.ashby import sandbox_id

    wanted = sandbox_id("feedback", key)
    return wanted in await feedback_ids(infra)


async def _other_holder(infra, dead: int) -> int | None:
    pid = await holder_pid(infra.nats_url)
    return pid if pid not in (None, dead) else None

"""Exactly-once effects against an Ashby that applies a change but loses the answer: two executor
replicas (one a separate process, killed with SIGKILL mid-attempt), real NATS and Postgres, and
the sandbox Ashby counting what it applied."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import subjects
from contracts.commands import AdvanceApplication, ArchiveApplication
from contracts.envelope import Envelope
from contracts.ids import derive_id
from sandbox.ashby import sandbox_id
from sandbox.scenarios import base_scenario, stage
from support import eventually, running_service

N_APPLICATIONS = 20
NOT_A_FIT = sandbox_id("archive-reason", "not-a-fit")
TEMPLATE = "tmpl-rejection-email"
# A small client timeout and lease TTL keep the suite fast. `Retry-After`s are honoured up to the
# default 120 s: a lease sized to outlive a whole attempt would hold a dead replica's commands for
# minutes; a renewed one ends within one TTL of the kill.
LEASE_TTL_S = 1.5
FAST = {"ashby_timeout_s": 0.5, "ashby_max_retries": 1, "ashby_backoff_max_s": 0.2, "executor_lease_ttl_s": LEASE_TTL_S,
        "consumer_ack_wait_s": 2.0}
TAKEN_OVER_WITHIN_S = 30  # the lease TTL, the takeover wait (0.5 s timeout + 1 s settle), redeliveries, a busy CI
FAULTS = {
    "late": {"delay": 0.8},  # applied, answered after the 0.5 s client timeout
    "5xx": {"delay": 0.3, "status": 502},  # applied, then a 502
    "dropped": {"delay": 0.3, "drop": True},  # applied, then the connection is cut
}


def applications(n: int) -> list[str]:
    return [sandbox_id("application", f"c{i}") for i in range(n)]


def command(i: int, app_id: str) -> tuple[str, Envelope]:
    """Even applications are advanced, odd ones archived with a rejection email."""
    now = datetime.now(UTC)
    command_id = derive_id("test-command", app_id)
    if i % 2 == 0:
        kind, verb = "AdvanceApplication", "advance"
        payload = AdvanceApplication(command_id=command_id, application_id=app_id, from_stage_id=stage("technical"),
                                     to_stage_id=stage("onsite"), decision_id=f"d-{i}", rule_set_version=1,
                                     rule_id="technical-pass").model_dump()
    else:
        kind, verb = "ArchiveApplication", "archive"
        payload = ArchiveApplication(command_id=command_id, application_id=app_id, from_stage_id=stage("technical"),
                                     archive_reason_id=NOT_A_FIT, archive_email_template_id=TEMPLATE).model_dump()
    env = Envelope(event_id=command_id, event_type=kind, key=app_id, occurred_at=now, recorded_at=now,
                   correlation_id=app_id, causation_id=None, source="evaluator", payload=payload)
    return subjects.command_subject("ashby", verb, app_id), env


@asynccontextmanager
async def executor_process(infra, ashby, name: str, **settings):
    """`autoadvance worker executor` as its own OS process, so it can be killed with SIGKILL."""
    env = {**os.environ, **infra.env(), "ASHBY_API_URL": ashby.base_url, "ASHBY_API_KEY": ashby.api_key,
           "REPLICA_ID": name, "DATA_DIR": str(infra.data_dir / name), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
           **{k.upper(): str(v) for k, v in settings.items()}}
    log_path = infra.data_dir.parent / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "autoadvance"), "worker",
                                                    "executor", env=env, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()


async def inbox(svc, where: str = "TRUE", *args) -> list:
    return await svc.fetch(f"SELECT * FROM executor_inbox WHERE {where}", *args)


async def stories(svc, app_ids: list[str]) -> dict[str, list[dict]]:
    rows = await svc.fetch("""SELECT key, event_type, payload FROM event_log
                              WHERE key = ANY($1) AND event_type LIKE 'Command%' ORDER BY stream_seq""", app_ids)
    out: dict[str, list[dict]] = {a: [] for a in app_ids}
    for r in rows:
        out[r["key"]].append({"type": r["event_type"], **r["payload"]})
    return out


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
async def test_each_change_and_each_rejection_email_reaches_ashby_once_with_a_replica_killed_mid_attempt(
        infra, sandbox_ashby, fault):
    apps = applications(N_APPLICATIONS)
    sandbox_ashby.load_scenario(base_scenario([{"key": f"c{i}", "candidate": f"C{i}", "job": "backend",
                                                "stage": "technical"} for i in range(N_APPLICATIONS)]))
    sandbox_ashby.fail_next("application.changeStage", after_apply=True, times=0, **FAULTS[fault])
    async with running_service(infra, roles=["executor", "projectors"], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key, replica_id="replica-b", **FAST) as svc, \
            executor_process(infra, sandbox_ashby, "replica-a", **FAST) as replica_a:
        for i, app_id in enumerate(apps):
            await svc.services.publisher.publish(*command(i, app_id))

        async def a_is_mid_attempt() -> list:
            return await inbox(svc, "lease_holder LIKE 'replica-a/%' AND status = 'started'")

        await eventually(a_is_mid_attempt, timeout=30, interval=0.01, message="replica A never took a command")
        replica_a.send_signal(signal.SIGKILL)
        await replica_a.wait()
        orphaned = [r["command_id"] for r in await a_is_mid_attempt()]  # A is dead: these stay as it left them
        assert orphaned, "replica A was killed between attempts; the kill must land mid-attempt"

        async def all_done() -> bool:
            rows = await inbox(svc)
            return len(rows) == N_APPLICATIONS and all(r["status"] == "succeeded" for r in rows)

        await eventually(all_done, timeout=TAKEN_OVER_WITHIN_S, interval=0.1,
                         message="not every command finished: a dead replica's lease was not taken over")
        await eventually(lambda: _settled(svc, apps), timeout=15, message="the outcomes are not all in the log")

        for app_id in apps:
            assert sandbox_ashby.applied_count(application_id=app_id) == 1, app_id
        emails = Counter(e["application_id"] for e in sandbox_ashby.emails)
        assert emails == Counter(apps[1::2])  # one rejection email per archived application, none for the others
        assert all(e["communication_template_id"] == TEMPLATE for e in sandbox_ashby.emails)

        by_app = await stories(svc, apps)
        orphan_apps = {r["application_id"] for r in await inbox(svc, "command_id = ANY($1)", orphaned)}
        for app_id, story in by_app.items():
            types = [e["type"] for e in story]
            assert types.count("CommandSucceeded") == 1 and types[-1] == "CommandSucceeded", types
            reconciled = [e for e in story if e["type"] == "CommandReconciled"]
            assert reconciled and reconciled[-1]["verdict"] == "applied", story
            if app_id not in orphan_apps:  # every write lost its answer, and a read settled it
                last = {t: len(types) - 1 - types[::-1].index(t) for t in set(types)}
                assert last["CommandOutcomeUnknown"] < last["CommandReconciled"] < last["CommandSucceeded"], types
        replicas = {e["replica"].split("/")[0] for s in by_app.values() for e in s if e["type"] == "CommandAttempted"}
        assert replicas == {"replica-a", "replica-b"}
        for app_id in orphan_apps:  # the next holder of a dead one's lease read before it wrote
            attempts = [e for e in by_app[app_id] if e["type"] == "CommandAttempted"]
            assert any(e["reconcile_first"] == "holder_lost" for e in attempts), by_app[app_id]

        resp = await svc.client.get("/api/events", params={"key": apps[1]})
        shown = [e["event_type"] for e in resp.json()["events"]]
        assert "CommandReconciled" in shown and shown[-1] == "CommandSucceeded"
        [told] = (await svc.client.get(f"/api/applications/{apps[1]}")).json()["commands"]
        assert [e["event_type"] for e in told["events"]] == shown
        assert any(e.get("verdict") == "applied" for e in told["events"])


async def _settled(svc, apps: list[str]) -> bool:
    n = await svc.fetchval("SELECT count(*) FROM event_log WHERE key = ANY($1) AND event_type = 'CommandSucceeded'",
                           apps)
    return n == len(apps)


async def test_a_candidate_a_recruiter_moved_while_the_outcome_was_unknown_is_skipped_and_nothing_is_resent(
        infra, sandbox_ashby):
    [app_id] = applications(1)
    sandbox_ashby.load_scenario(base_scenario([{"key": "c0", "candidate": "C0", "job": "backend",
                                                "stage": "technical"}]))
    sandbox_ashby.fail_next("application.changeStage", status=502)  # not applied, but we cannot know that
    async with running_service(infra, roles=["executor", "projectors"], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key, **FAST) as svc:
        await svc.services.publisher.publish(*command(0, app_id))

        def stage_calls() -> list:
            return [c for c in sandbox_ashby.calls if c["endpoint"] == "application.changeStage"]

        await eventually(lambda: _async(stage_calls()), message="the write was never sent")
        sandbox_ashby.move(app_id, "offer")  # the recruiter, within the settle time
        await eventually(lambda: _skipped(svc, app_id), timeout=20, message="no CommandSkipped")
        story = (await stories(svc, [app_id]))[app_id]
        assert [e["type"] for e in story] == ["CommandAttempted", "CommandOutcomeUnknown", "CommandAttempted",
                                              "CommandReconciled", "CommandSkipped"]
        assert story[3]["verdict"] == "moved" and story[3]["current_stage_id"] == stage("offer")
        assert len(stage_calls()) == 1 and sandbox_ashby.applied_count(application_id=app_id) == 0
        assert sandbox_ashby.stage("c0")["id"] == stage("offer")


async def _skipped(svc, app_id: str) -> bool:
    return bool(await svc.fetchval("SELECT count(*) FROM event_log WHERE key = $1 AND event_type = 'CommandSkipped'",
                                   app_id))


async def test_a_call_slower_than_the_ack_wait_is_not_redelivered_while_its_replica_works(infra, sandbox_ashby):
    [app_id] = applications(1)
    sandbox_ashby.load_scenario(base_scenario([{"key": "c0", "candidate": "C0", "job": "backend",
                                                "stage": "technical"}]))
    sandbox_ashby.fail_next("application.info", delay=2.5)  # a slow read, well past the 1 s ack wait
    async with running_service(infra, roles=["executor", "projectors"], ashby_api_url=sandbox_ashby.base_url,
                               ashby_api_key=sandbox_ashby.api_key, ashby_timeout_s=5.0,
                               consumer_ack_wait_s=1.0) as svc:
        await svc.services.publisher.publish(*command(0, app_id))
        await eventually(lambda: _settled(svc, [app_id]), timeout=20, message="not advanced")
        info = await svc.services.nc.jetstream().consumer_info(subjects.COMMANDS_STREAM, "executor-ashby-v1")
        assert info.num_redelivered == 0
        story = (await stories(svc, [app_id]))[app_id]
        assert [e["type"] for e in story] == ["CommandAttempted", "CommandSucceeded"]
        assert sandbox_ashby.applied_count(application_id=app_id) == 1


async def _async(value):
    return value

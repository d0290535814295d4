"""Slack messages under the exactly-once fault test: two notifier replicas (one a separate process,
killed with SIGKILL mid-call), a Slack that stores each message and answers a second late, and
chat.postMessage counted per command at the sandbox Slack. With `*:history` scopes a redelivered
command finds its earlier message by metadata and adopts it; without them it posts again, as
decision 0002 accepted (docs/decisions/0006-slack-dedupe-by-metadata.md has the figures)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contracts import subjects
from contracts.commands import ProposeRejection, SendAlert
from contracts.envelope import Envelope
from contracts.ids import derive_id
from sandbox.ashby import sandbox_id
from sandbox.scenarios import RECRUITER_EMAIL, base_scenario, stage
from support import eventually, running_service

N_COMMANDS = 10
RECRUITER = "U0RITA"
ADMIN = "#auto-advance-admin"
FAST = {"consumer_ack_wait_s": 2.0}


def commands(n: int) -> list[tuple[str, Envelope]]:
    """Proposals for even applications, admin alerts for odd ones."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        app_id = sandbox_id("application", f"c{i}")
        command_id = derive_id("test-slack-command", app_id)
        if i % 2 == 0:
            kind, verb = "ProposeRejection", "propose"
            payload = ProposeRejection(command_id=command_id, application_id=app_id, stage_id=stage("technical"),
                                       archive_reason_id=sandbox_id("archive-reason", "not-a-fit"),
                                       decision_id=f"d-{i}", rule_set_version=1, rule_id="technical-fail",
                                       ).model_dump()
        else:
            kind, verb = "SendAlert", "alert"
            payload = SendAlert(command_id=command_id, kind="rule_timeout", text=f"alert {i}",
                                application_id=app_id).model_dump()
        env = Envelope(event_id=command_id, event_type=kind, key=app_id, occurred_at=now, recorded_at=now,
                       correlation_id=app_id, causation_id=None, source="evaluator", payload=payload)
        out.append((subjects.command_subject("slack", verb, app_id), env))
    return out


@asynccontextmanager
async def notifier_process(infra, ashby, slack, name: str, **settings):
    """`autoadvance worker notifier` as its own OS process, so it can be killed with SIGKILL."""
    env = {**os.environ, **infra.env(), "ASHBY_API_URL": ashby.base_url, "ASHBY_API_KEY": ashby.api_key,
           "SLACK_API_URL": slack.base_url, "SLACK_BOT_TOKEN": slack.token,
           "SLACK_SIGNING_SECRET": slack.signing_secret, "ADMIN_SLACK_CHANNEL": ADMIN,
           "REPLICA_ID": name, "DATA_DIR": str(infra.data_dir / name), "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING",
           **{k.upper(): str(v) for k, v in settings.items()}}
    with open(infra.data_dir.parent / f"{name}.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(str(Path(sys.executable).parent / "autoadvance"), "worker",
                                                    "notifier", env=env, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()


@pytest.mark.parametrize("history", ["granted", "missing-scope", "rate-limited"])
async def test_posts_per_command_when_a_replica_is_killed_while_slack_answers_late(
        infra, sandbox_ashby, sandbox_slack, history):
    """`granted`: the redeliveries adopt what the killed replica posted. Without the scope, or with
    the history read rate limited, they post again (never lose a message) — 0002's duplicate."""
    scopes = history != "missing-scope"
    if history == "rate-limited":
        sandbox_slack.fail_next("conversations.history", "ratelimited", times=1000)
    sandbox_ashby.load_scenario(base_scenario([{"key": f"c{i}", "candidate": f"C{i}", "job": "backend",
                                                "stage": "technical"} for i in range(N_COMMANDS)]))
    sandbox_slack.add_user(RECRUITER, RECRUITER_EMAIL, "Rita Recruiter")
    sandbox_slack.history_scopes = scopes
    sandbox_slack.answer_late("chat.postMessage", 3.0)  # stored at once, answered three seconds later
    admin = sandbox_slack.channel_id(ADMIN)  # configured by id: `conversations.history` takes no name
    slack = {"ashby_api_url": sandbox_ashby.base_url, "ashby_api_key": sandbox_ashby.api_key,
             "slack_api_url": sandbox_slack.base_url, "slack_bot_token": sandbox_slack.token,
             "slack_signing_secret": sandbox_slack.signing_secret, "admin_slack_channel": admin, **FAST}
    sent = commands(N_COMMANDS)
    async with running_service(infra, roles=[], **slack) as svc:
        async with notifier_process(infra, sandbox_ashby, sandbox_slack, "replica-a",
                                    admin_slack_channel=admin, **FAST) as replica_a:
            for subject, env in sent:
                await svc.services.publisher.publish(subject, env)

            async def mid_call() -> bool:
                return sandbox_slack.in_flight >= 2

            await eventually(mid_call, timeout=60, interval=0.01, message="replica A never posted")
            replica_a.send_signal(signal.SIGKILL)
            await replica_a.wait()
        lost_answers = sandbox_slack.in_flight  # stored in Slack, never answered to the dead replica
        assert lost_answers >= 1
        sandbox_slack.answer_late("chat.postMessage", 0)
        async with running_service(infra, roles=["notifier"], replica_id="replica-b", **slack):

            async def all_posted() -> bool:
                rows = await svc.fetch("SELECT status FROM notifier_inbox")
                return len(rows) == N_COMMANDS and all(r["status"] == "posted" for r in rows)

            await eventually(all_posted, timeout=60, message="not every command was posted")
        posts = {env.payload["command_id"]: len(sandbox_slack.posts_of(env.payload["command_id"]))
                 for _, env in sent}
        duplicates = sum(n - 1 for n in posts.values())
        print(f"\nchat.postMessage per command (history {history}), "
              f"{lost_answers} answer(s) lost in the kill: {sorted(posts.values())}, duplicates: {duplicates}")
        assert all(n >= 1 for n in posts.values()), posts  # never lost
        if history == "granted":
            assert duplicates == 0, posts  # each redelivery adopted the message the killed replica posted
        else:
            assert duplicates >= 1, posts  # decision 0002's duplicate, for what A had in flight
        rows = await svc.fetch("SELECT command_id, channel, ts FROM notifier_inbox")
        for r in rows:  # the inbox recorded a message that exists, with its command's metadata
            [match] = [m for m in sandbox_slack.messages if m["ts"] == r["ts"]]
            assert match["channel"] == r["channel"]
            assert match["metadata"]["event_payload"]["command_id"] == r["command_id"]
        assert any(c["method"] == "conversations.history" for c in sandbox_slack.calls)
        inbox = {r["command_id"]: r["ts"] for r in rows}
        for p in await svc.fetch("SELECT command_id, ts FROM notifier_proposals"):
            assert inbox[p["command_id"]] == p["ts"]  # a click finds the message the recruiter sees

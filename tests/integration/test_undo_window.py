"""The undo window of an archive (issue 21): a recruiter's Archive (or a rule's own) waits
`archive_delay` with an Undo button before anything reaches Ashby. Undo in time → no write and no
email; no Undo → one archive after the window, also across a restart; Undo too late → told so,
with what really happened. Real NATS + Postgres, sandbox Ashby and Slack, short windows."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from test_end_to_end import RECRUITER_SLACK_ID, _async, _has, events_of, interview, pipeline, stage_calls

from contracts import subjects
from runtime.workers import create_worker
from runtime.workers import roles as all_roles
from sandbox.ashby import sandbox_id
from sandbox.scenarios import demo_rules, stage
from support import eventually, stream_messages

TEMPLATE = "tmpl-rejection"


def rules(*, automatic: bool = False) -> dict:
    doc = demo_rules()
    on_fail = doc["rules"][0]["on_fail"]
    on_fail["archive_email_template_id"] = TEMPLATE
    if automatic:
        on_fail.update(action="archive", auto_archive=True)
    return doc


async def _proposal(slack) -> dict:
    [proposal] = await eventually(lambda: _async(slack.messages), timeout=25, message="no Slack proposal")
    return proposal


async def _showing(slack, message: dict, prefix: str) -> dict:
    async def probe():
        now = slack.current(message["channel"], message["ts"])
        return now if now and now["text"].startswith(prefix) else None

    return await eventually(probe, timeout=30, message=f"the message never said {prefix!r}")


async def _click(svc, slack, message: dict, action: str):
    resp = await slack.simulate_click(f"{svc.client.base_url}/slack/interactions", message, action,
                                      RECRUITER_SLACK_ID)
    assert resp.status_code == 200, resp.text
    return resp


async def _window(svc, app_id: str) -> dict:
    async def probe():
        rows = await svc.fetch("SELECT * FROM evaluator_archive_windows WHERE application_id = $1", app_id)
        return dict(rows[0]) if rows else None

    return await eventually(probe, timeout=20, message="no archive window was scheduled")


async def _past(moment: datetime, margin_s: float = 1.5) -> bool:
    return datetime.now(UTC).timestamp() > moment.timestamp() + margin_s


def _archive_commands(messages: list) -> list:
    return [m for m in messages if m[2]["event_type"] == "ArchiveApplication"]


async def test_undo_within_the_window_sends_nothing_to_ashby_and_no_email(infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=rules(), archive_delay="10s") as svc:
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        strong = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})
        proposal = await _proposal(sandbox_slack)
        await _click(svc, sandbox_slack, proposal, "archive")
        scheduled = await _showing(sandbox_slack, proposal, "Archive scheduled")
        assert "Undo" in orjson.dumps(scheduled["blocks"]).decode()
        # advances are not delayed by the archive window
        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=10,
                         message="the strong candidate's advance waited")

        await _click(svc, sandbox_slack, scheduled, "undo")
        undone = await _showing(sandbox_slack, proposal, "Archive undone")
        assert "Nothing was sent to Ashby" in orjson.dumps(undone["blocks"]).decode()
        window = await _window(svc, weak)
        assert window["status"] == "undone" and window["settled_by"] == RECRUITER_SLACK_ID

        await eventually(lambda: _past(window["due_at"]), timeout=20, message="the window did not end")
        await eventually(lambda: _has(svc, weak, "ArchiveUndone"), message="no ArchiveUndone in the story")
        released = await svc.fetchval("SELECT count(*) FROM outbox WHERE message_id = $1", window["command_id"])
        assert released == 0
        assert stage_calls(sandbox_ashby, weak) == [] and sandbox_ashby.emails == []
        assert sandbox_ashby.stage("weak")["id"] == stage("technical")
        assert _archive_commands(await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)) == []
        story = [e["event_type"] for e in await events_of(svc, weak)]
        assert story.index("ArchiveScheduled") < story.index("ArchiveUndoRequested") < story.index("ArchiveUndone")
        assert "ArchiveReleased" not in story and "CommandSucceeded" not in story
        assert stage_calls(sandbox_ashby, strong)  # the advance went through meanwhile


async def test_without_undo_the_archive_happens_once_after_the_window(infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=rules(), archive_delay="3s") as svc:
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        proposal = await _proposal(sandbox_slack)
        await _click(svc, sandbox_slack, proposal, "archive")
        window = await _window(svc, weak)
        await _showing(sandbox_slack, proposal, "Archived")
        [call] = stage_calls(sandbox_ashby, weak)
        [applied] = [a for a in sandbox_ashby.applied if a["body"]["applicationId"] == weak]
        assert applied["at"] >= window["due_at"].timestamp()  # not before the window ended
        assert call["body"]["archiveEmail"] == {"communicationTemplateId": TEMPLATE}
        assert len(sandbox_ashby.emails) == 1
        texts = [u["text"] for u in sandbox_slack.updates if u["ts"] == proposal["ts"]]
        assert any(t.startswith("Archive scheduled") for t in texts) and texts[-1].startswith("Archived")
        # the Slack update follows CommandSucceeded on the stream; its event_log copy may land a moment later
        await eventually(lambda: _has(svc, weak, "CommandSucceeded"), message="no CommandSucceeded")
        story = [e["event_type"] for e in await events_of(svc, weak)]
        assert story.index("ArchiveScheduled") < story.index("ArchiveReleased") < story.index("CommandSucceeded")


async def test_a_restart_during_the_window_still_archives_exactly_once_at_its_time(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=rules(), archive_delay="6s") as svc:
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        proposal = await _proposal(sandbox_slack)
        await _click(svc, sandbox_slack, proposal, "archive")
        window = await _window(svc, weak)
        await svc.worker.stop()  # every worker role goes away during the window
        assert not await _past(window["due_at"], margin_s=0)
        restarted = create_worker(all_roles(), svc.services)
        await restarted.start()
        try:
            await _showing(sandbox_slack, proposal, "Archived")
            [applied] = [a for a in sandbox_ashby.applied if a["body"]["applicationId"] == weak]
            assert applied["at"] >= window["due_at"].timestamp()
            assert len(stage_calls(sandbox_ashby, weak)) == 1 and len(sandbox_ashby.emails) == 1
            assert len(_archive_commands(await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM))) == 1
            await eventually(lambda: _has(svc, weak, "CommandSucceeded"), message="no CommandSucceeded")
            story = [e["event_type"] for e in await events_of(svc, weak)]
            assert story.count("ArchiveReleased") == 1 and story.count("CommandSucceeded") == 1
        finally:
            await restarted.stop()


async def test_undo_after_the_window_is_answered_too_late_with_what_really_happened(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=rules(), archive_delay="2s") as svc:
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        proposal = await _proposal(sandbox_slack)
        await _click(svc, sandbox_slack, proposal, "archive")
        scheduled = await _showing(sandbox_slack, proposal, "Archive scheduled")
        await _showing(sandbox_slack, proposal, "Archived")
        await _click(svc, sandbox_slack, scheduled, "undo")  # the Undo button of the window's message
        [told] = await eventually(lambda: _async(sandbox_slack.ephemerals), timeout=20,
                                  message="the late Undo was not answered")
        assert told["user"] == RECRUITER_SLACK_ID
        assert told["text"].startswith("Too late to undo") and "Ashby confirmed the archive" in told["text"]
        await eventually(lambda: _has(svc, weak, "ArchiveUndoRefused"), message="no ArchiveUndoRefused")
        refused = [e for e in await events_of(svc, weak) if e["event_type"] == "ArchiveUndoRefused"]
        assert refused[0]["payload"]["reason"] == "too_late"
        assert sandbox_slack.current(proposal["channel"], proposal["ts"])["text"].startswith("Archived")
        assert len(stage_calls(sandbox_ashby, weak)) == 1
        assert sandbox_ashby.stage("weak")["type"] == "Archived"


async def test_a_rules_own_archive_is_announced_with_undo_and_undone(infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=rules(automatic=True), archive_delay="10s") as svc:
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        notice = await _proposal(sandbox_slack)
        assert notice["text"].startswith("Archive scheduled by the rule")
        assert notice["channel"] == sandbox_slack.dm_id(RECRUITER_SLACK_ID)
        await _click(svc, sandbox_slack, notice, "undo")
        await _showing(sandbox_slack, notice, "Archive undone")
        window = await _window(svc, weak)
        await eventually(lambda: _past(window["due_at"]), timeout=20, message="the window did not end")
        assert window["status"] == "undone"
        assert stage_calls(sandbox_ashby, weak) == [] and sandbox_ashby.emails == []
        assert sandbox_ashby.data["applications"][sandbox_id("application", "weak")]["status"] == "Active"
        await eventually(lambda: _has(svc, weak, "ArchiveUndone"), message="no ArchiveUndone in the story")

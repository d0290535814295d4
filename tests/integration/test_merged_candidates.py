"""Merged and moved candidates (issue 21): after Ashby's `candidateMerge` the story follows the
surviving application, what was pending for the merged-away one is cancelled with the reason, no
command reaches Ashby for an id that no longer exists, and replay --verify still reproduces the
live decisions. A move to another job cancels a scheduled archive the same way."""

from __future__ import annotations

import orjson
from test_end_to_end import _command, _has, events_of, interview, pipeline, stage_calls
from test_replay import replay_args
from test_undo_window import _click, _proposal, _showing, _window

from contracts import subjects
from runtime import cli_replay
from runtime.settings import Settings
from runtime.workers import create_worker
from sandbox.ashby import sandbox_id
from sandbox.scenarios import demo_rules
from support import eventually, stream_messages


def _duplicate(ashby, key: str, name: str) -> str:
    """A second candidate record for the same person, applying to the same job."""
    ashby.load_scenario({"applications": [{"key": key, "candidate": name, "job": "backend", "stage": "technical"}]})
    return sandbox_id("application", key)


async def _story(svc, app_id: str) -> dict:
    resp = await svc.client.get("/api/events", params={"key": app_id})
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_a_merge_cancels_the_merged_away_applications_archive_and_the_story_follows_the_survivor(
        infra, sandbox_ashby, sandbox_slack, tmp_path):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), archive_delay="60s") as svc:
        survivor = sandbox_id("application", "weak")
        twin = _duplicate(sandbox_ashby, "weak-twin", "Wes Weak")
        interview(sandbox_ashby, "weak-twin", {"ivan": 4, "iris": 2})
        proposal = await _proposal(sandbox_slack)
        await _click(svc, sandbox_slack, proposal, "archive")
        window = await _window(svc, twin)
        assert window["status"] == "scheduled"
        await eventually(lambda: _has(svc, twin, "ApplicationSnapshotted"), message="the twin was never snapshotted")

        assert sandbox_ashby.merge_candidates("weak-twin", "weak") == {twin: survivor}
        await eventually(lambda: _has(svc, twin, "DecisionsCancelled"), timeout=30,
                         message="the twin's pending archive was not cancelled")
        cancelled = [e for e in await events_of(svc, twin) if e["event_type"] == "DecisionsCancelled"]
        assert cancelled[0]["payload"]["cause"] == "merged"
        assert cancelled[0]["payload"]["surviving_application_id"] == survivor
        assert cancelled[0]["payload"]["cancelled_command_ids"] == [window["command_id"]]
        assert "merged into" in cancelled[0]["payload"]["reason"]
        told = await _showing(sandbox_slack, proposal, "Not archived")
        assert "merged" in orjson.dumps(told["blocks"]).decode()
        assert (await _window(svc, twin))["status"] == "cancelled"
        assert await svc.fetchval("SELECT count(*) FROM evaluator_pending WHERE application_id = $1", twin) == 0

        # the story follows the surviving id: the survivor's trail includes the twin's
        story = await _story(svc, survivor)
        assert story["merged_from"] == [twin]
        assert {e["key"] for e in story["events"]} == {survivor, twin}
        assert "RecruiterDecided" in [e["event_type"] for e in story["events"]]
        assert (await _story(svc, twin))["merged_into"] == survivor

        # nothing was sent for the id that no longer exists
        assert await svc.fetchval("SELECT count(*) FROM outbox WHERE message_id = $1", window["command_id"]) == 0
        assert [m for m in await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)
                if m[2]["event_type"] == "ArchiveApplication"] == []
        assert stage_calls(sandbox_ashby, twin) == [] and sandbox_ashby.emails == []

        # replay treats the merge as the live evaluator did
        settings = Settings(database_url=infra.database_url, data_dir=infra.data_dir)
        report = tmp_path / "verify.json"
        assert await cli_replay.run(replay_args(verify=True, out=report), settings) == 0
        verified = orjson.loads(report.read_bytes())
        assert verified["summary"]["verify"]["ok"] is True and verified["defects"] == []


async def test_a_command_already_queued_for_a_merged_away_application_is_skipped_with_the_reason(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(),
                        roles=["projectors", "evaluator", "poller", "notifier"]) as svc:
        twin = _duplicate(sandbox_ashby, "strong-twin", "Sam Strong")
        interview(sandbox_ashby, "strong-twin", {"ivan": 4, "iris": 4})
        await eventually(lambda: _command(infra, "AdvanceApplication"), timeout=25, message="no advance command")
        sandbox_ashby.merge_candidates("strong-twin", "strong")
        await eventually(lambda: _has(svc, twin, "ApplicationMerged"), timeout=30, message="no ApplicationMerged")
        executor = create_worker(["executor"], svc.services)  # the executor comes back after the merge
        await executor.start()
        try:
            await eventually(lambda: _has(svc, twin, "CommandSkipped"), timeout=30, message="no CommandSkipped")
        finally:
            await executor.stop()
        [skipped] = [e for e in await events_of(svc, twin) if e["event_type"] == "CommandSkipped"]
        assert "no longer exists in Ashby" in skipped["payload"]["reason"]
        assert [c["endpoint"] for c in sandbox_ashby.calls
                if (c["body"] or {}).get("applicationId") == twin and c["endpoint"] == "application.changeStage"] == []


async def test_a_move_to_another_job_cancels_the_scheduled_archive_with_the_reason(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules(), archive_delay="60s") as svc:
        sandbox_ashby.load_scenario({
            "plans": [{"key": "ops", "title": "Operations", "stages": [
                {"key": "technical", "title": "Ops interview", "type": "Active"},
                {"key": "archived", "title": "Archived", "type": "Archived"}]}],
            "jobs": [{"key": "sre", "title": "SRE", "plan": "ops", "recruiter": "rita"}]})
        weak = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        proposal = await _proposal(sandbox_slack)
        await _click(svc, sandbox_slack, proposal, "archive")
        window = await _window(svc, weak)
        sandbox_ashby.change_job("weak", "sre", "technical")
        await eventually(lambda: _has(svc, weak, "DecisionsCancelled"), timeout=30,
                         message="the archive was not cancelled after the move")
        [cancelled] = [e for e in await events_of(svc, weak) if e["event_type"] == "DecisionsCancelled"]
        assert cancelled["payload"]["cause"] == "moved"
        assert cancelled["payload"]["cancelled_command_ids"] == [window["command_id"]]
        assert sandbox_id("job", "sre") in cancelled["payload"]["reason"]
        await _showing(sandbox_slack, proposal, "Not archived")
        assert stage_calls(sandbox_ashby, weak) == [] and sandbox_ashby.emails == []


async def test_an_unanswered_proposal_of_a_merged_away_application_says_it_no_longer_applies(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        twin = _duplicate(sandbox_ashby, "weak-twin", "Wes Weak")
        interview(sandbox_ashby, "weak-twin", {"ivan": 4, "iris": 2})
        proposal = await _proposal(sandbox_slack)
        await eventually(lambda: _has(svc, twin, "SlackMessagePosted"), message="the proposal was not recorded")
        sandbox_ashby.merge_candidates("weak-twin", "weak")
        told = await _showing(sandbox_slack, proposal, "Not archived")
        assert "no longer applies" in orjson.dumps(told["blocks"]).decode()
        assert "autoadvance_archive" not in orjson.dumps(told["blocks"]).decode()
        await _click(svc, sandbox_slack, proposal, "archive")  # a click on the old message changes nothing
        await eventually(lambda: _has(svc, twin, "RecruiterDecided"), message="the click was not stored")
        [cancelled] = [e for e in await events_of(svc, twin) if e["event_type"] == "DecisionsCancelled"]
        assert cancelled["payload"]["cause"] == "merged" and cancelled["payload"]["cancelled_command_ids"]
        assert stage_calls(sandbox_ashby, twin) == []
        assert not [m for m in await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)
                    if m[2]["event_type"] == "ArchiveApplication"]

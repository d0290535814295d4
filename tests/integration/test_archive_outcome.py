"""The recruiter is told what Ashby did, never what we hoped: an Archive click shows "Archiving…",
then the proposal says archived, failed with the reason, or skipped because the candidate moved."""

from __future__ import annotations

import orjson
from test_end_to_end import RECRUITER_SLACK_ID, _async, _has, interview, pipeline

from sandbox.scenarios import demo_rules
from support import eventually


async def _click_archive(svc, slack) -> dict:
    [proposal] = await eventually(lambda: _async(slack.messages), timeout=20, message="no Slack proposal")
    resp = await slack.simulate_click(f"{svc.client.base_url}/slack/interactions", proposal, "archive",
                                      RECRUITER_SLACK_ID)
    assert resp.status_code == 200
    return proposal


def _texts(slack, proposal: dict) -> list[str]:
    return [u["text"] for u in slack.updates if u["ts"] == proposal["ts"]]


async def _final(slack, proposal: dict, prefix: str) -> dict:
    async def probe():
        now = slack.current(proposal["channel"], proposal["ts"])
        return now if now and now["text"].startswith(prefix) else None

    return await eventually(probe, timeout=25, message=f"the proposal never said {prefix!r}")


async def test_an_archive_shows_archiving_at_the_click_and_archived_once_ashby_confirmed(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        proposal = await _click_archive(svc, sandbox_slack)
        final = await _final(sandbox_slack, proposal, "Archived")
        assert sandbox_ashby.stage("weak")["type"] == "Archived"
        texts = _texts(sandbox_slack, proposal)
        assert texts[0].startswith("Archiving…") and texts[-1] == f"Archived by <@{RECRUITER_SLACK_ID}>"
        assert "Ashby confirmed" in orjson.dumps(final["blocks"]).decode()


async def test_an_archive_ashby_refuses_is_shown_as_failed_with_the_reason(infra, sandbox_ashby, sandbox_slack):
    sandbox_ashby.fail_next("application.changeStage", code="application_not_found", times=5)
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        app_id = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        proposal = await _click_archive(svc, sandbox_slack)
        final = await _final(sandbox_slack, proposal, "Archive failed")
        assert "application_not_found" in orjson.dumps(final).decode()
        assert not any(t.startswith("Archived") for t in _texts(sandbox_slack, proposal))
        assert sandbox_ashby.stage("weak")["type"] != "Archived"
        # the Slack update follows CommandFailed on the stream; its copy in event_log may land a moment later
        await eventually(lambda: _has(svc, app_id, "CommandFailed"), timeout=15,
                         message="CommandFailed never reached the application's story")


async def test_an_archive_of_a_candidate_moved_meanwhile_is_shown_as_skipped(infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        app_id = interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        await eventually(lambda: _async(sandbox_slack.messages), timeout=20, message="no Slack proposal")
        sandbox_ashby.webhook_url = None  # the recruiter's move reaches Ashby only
        sandbox_ashby.move(app_id, "onsite")
        proposal = await _click_archive(svc, sandbox_slack)
        final = await _final(sandbox_slack, proposal, "Not archived")
        assert "moved the candidate" in orjson.dumps(final["blocks"]).decode()
        assert sandbox_ashby.stage("weak")["type"] != "Archived"


async def test_a_proposal_shows_each_interviewers_name_value_and_time_under_its_requirement(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()):
        interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        [proposal] = await eventually(lambda: _async(sandbox_slack.messages), timeout=20, message="no proposal")
        [requirement] = [b["text"]["text"] for b in proposal["blocks"]
                         if b["type"] == "section" and "needs" in b["text"]["text"]]
        lines = requirement.splitlines()
        ivan = next(line for line in lines if "Ivan Interviewer" in line)
        iris = next(line for line in lines if "Iris Interviewer" in line)
        assert "overall_recommendation" in ivan and "= 4" in ivan and "submitted 20" in ivan and "UTC" in ivan
        assert "= 2" in iris and ":x:" in iris
        assert "example.com" not in orjson.dumps(proposal).decode()

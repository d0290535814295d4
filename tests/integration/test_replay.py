"""Replay against the real thing: the live evaluator consumer decides over JetStream + Postgres,
then `autoadvance replay --verify` reproduces its decisions from event_log, a what-if through
`POST /api/replays` reports what a stricter rule set changes, and neither sends anything."""

from __future__ import annotations

import argparse
import random

import orjson

from contracts import subjects
from contracts.envelope import Envelope
from runtime import cli_replay
from runtime.settings import Settings
from support import ADMIN_TOKEN, activate, eventually, publish, running_service, scenario, stream_messages

APPS = [f"app-r{i:02d}" for i in range(14)]


def history(apps: list[str], rnd: random.Random) -> list[Envelope]:
    """Snapshots, schedules (some re-sent under another action id) and feedback, interleaved at
    random across applications; about a third fail, one in five gets a late extra feedback."""
    per_app = []
    for app in apps:
        events = [scenario.snapshot(app), scenario.schedule(app, status="Scheduled"), scenario.schedule(app)]
        if rnd.random() < 0.3:
            again = events[-1]
            events.append(again.model_copy(update={"event_id": again.event_id + "-again"}))
        scores = [rnd.choice((3, 4, 5)), rnd.choice((1, 2)) if rnd.random() < 0.35 else rnd.choice((3, 4))]
        events += [scenario.feedback(app, "u1", {"score": scores[0]}), scenario.feedback(app, "u2", scores[1])]
        per_app.append(events)
    out = []
    while any(per_app):
        queue = rnd.choice([q for q in per_app if q])
        out.append(queue.pop(0))
    return out


async def settled(svc, n_apps: int) -> bool:
    """Every application decided or waiting on nothing timed; every decision back in event_log."""
    decided = await svc.fetchval("SELECT count(DISTINCT application_id) FROM evaluator_decisions")
    timers = await svc.fetchval("SELECT count(*) FROM evaluator_pending WHERE fire_at IS NOT NULL")
    made = await svc.fetchval("SELECT count(*) FROM evaluator_decisions")
    logged = await svc.fetchval("SELECT count(*) FROM event_log WHERE event_type = 'DecisionMade'")
    unpublished = await svc.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return decided >= n_apps and timers == 0 and made == logged and unpublished == 0


async def stream_ends(infra) -> dict[str, int]:
    import nats

    nc = await nats.connect(infra.nats_url)
    try:
        js = nc.jetstream()
        return {s: (await js.stream_info(s)).state.last_seq
                for s in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM, subjects.DLQ_STREAM)}
    finally:
        await nc.close()


def replay_args(**kw) -> argparse.Namespace:
    base = dict(command="replay", rules=None, against="CURRENT", since=None, until=None, format="json", out=None,
                verify=False, limit=50, workers=None, no_progress=True)  # None: as without --workers
    return argparse.Namespace(**{**base, **kw})


async def test_replay_reproduces_the_live_consumer_and_a_what_if_sends_nothing(infra, sandbox_ashby, sandbox_slack,
                                                                               tmp_path):
    rnd = random.Random(6)
    async with running_service(infra, roles=["projectors", "evaluator"], ashby_api_url=sandbox_ashby.base_url,
                               slack_api_url=sandbox_slack.base_url) as svc:
        await activate(svc, scenario.rules(quiet="1s"))
        await publish(svc, *scenario.catalog_events())
        await publish(svc, *history(APPS[:8], rnd))
        await eventually(lambda: settled(svc, 8), timeout=30, message="live evaluator did not settle")
        # late feedback for decided stages, a stricter rule set, and more candidates under it
        await publish(svc, *[scenario.feedback(app, "u3", {"score": 1}) for app in APPS[:3]])
        await activate(svc, scenario.rules(quiet="1s", threshold=4))
        await publish(svc, *history(APPS[8:], rnd))
        await eventually(lambda: settled(svc, len(APPS)), timeout=30, message="live evaluator did not settle")
        live = await svc.fetch("SELECT rule_set_version, application_id, stage_id, outcome, rule_id "
                               "FROM evaluator_decisions")
        assert {r["rule_set_version"] for r in live} == {1, 2}
        assert {r["outcome"] for r in live} >= {"advance", "propose_rejection"}

        before = (await stream_ends(infra), await svc.fetchval("SELECT count(*) FROM outbox"),
                  len(sandbox_ashby.calls), len(sandbox_slack.calls))
        settings = Settings(database_url=infra.database_url, data_dir=infra.data_dir)

        # --verify through the CLI: every recorded decision reproduced, nothing else
        report = tmp_path / "verify.json"
        assert await cli_replay.run(replay_args(verify=True, out=report), settings) == 0
        verified = orjson.loads(report.read_bytes())
        assert verified["summary"]["verify"] == {"recorded": len(live), "defects": 0, "ok": True}
        assert verified["defects"] == []

        # a what-if through the API: a screen threshold of 5 instead of what was live
        strict = scenario.rules(quiet="1s", threshold=5)
        resp = await svc.client.post("/api/replays", json={"rules": strict, "name": "strict"})
        assert resp.status_code == 202, resp.text
        url = resp.json()["url"]

        async def finished():
            body = (await svc.client.get(url)).json()
            return body if body["status"] != "running" else None

        body = await eventually(finished, timeout=30, message="replay did not finish")
        assert body["status"] == "done", body["error"]
        changes = body["result"]["changes"]
        advanced = {r["application_id"] for r in live if r["outcome"] == "advance"}
        assert {c["application_id"] for c in changes} == advanced  # a 5 from everyone: nobody had that
        assert all(c["kind"] == "changed" and c["before"]["outcome"] == "advance"
                   and c["after"]["outcome"] == "propose_rejection" and c["why"] for c in changes)
        page = await svc.client.get(url, params={"format": "html"})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert (await svc.client.get(url, params={"format": "csv"})).status_code == 400
        [listed] = (await svc.client.get("/api/replays")).json()  # a listing: no results, no pages
        assert listed["replay_id"] == body["replay_id"] and listed["summary"] == body["summary"]
        assert "result" not in listed and "request" not in listed
        # the same through the API in two worker processes (what a large log gets by default)
        resp = await svc.client.post("/api/replays", json={"rules": strict, "name": "strict", "workers": 2})
        assert resp.status_code == 202, resp.text
        url = resp.json()["url"]
        split = await eventually(finished, timeout=60, message="replay in workers did not finish")
        assert split["status"] == "done", split["error"]
        assert split["result"]["changes"] == body["result"]["changes"]
        assert split["summary"]["compared"] == body["summary"]["compared"]

        # the same what-if from the CLI, as a table
        rules_file = tmp_path / "strict.yaml"
        rules_file.write_text(orjson.dumps(strict).decode())
        table = tmp_path / "whatif.txt"
        assert await cli_replay.run(replay_args(rules=rules_file, format="table", out=table), settings) == 0
        assert f"{len(advanced)} changed" in table.read_text()

        # split over two processes (each diffs its own applications): the same report and verdict
        one, two = tmp_path / "one.json", tmp_path / "two.json"
        assert await cli_replay.run(replay_args(rules=rules_file, out=one), settings) == 0
        assert await cli_replay.run(replay_args(rules=rules_file, out=two, workers=2), settings) == 0
        single, split = orjson.loads(one.read_bytes()), orjson.loads(two.read_bytes())
        single["summary"].pop("events"), split["summary"].pop("events")  # each process reads the catalog
        assert split == single and len(split["changes"]) == len(advanced)
        assert await cli_replay.run(replay_args(verify=True, out=report, workers=2), settings) == 0
        assert orjson.loads(report.read_bytes())["summary"]["verify"]["ok"] is True

        after = (await stream_ends(infra), await svc.fetchval("SELECT count(*) FROM outbox"),
                 len(sandbox_ashby.calls), len(sandbox_slack.calls))
        assert after == before, "a replay published, queued or called something"


async def test_verify_reports_a_decision_the_log_does_not_explain_and_exits_non_zero(infra, tmp_path):
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        await activate(svc, scenario.rules())
        await publish(svc, *scenario.catalog_events())
        await publish(svc, *history(APPS[:2], random.Random(1)))
        await eventually(lambda: settled(svc, 2), timeout=30)
        # a decision nobody can reproduce: as if another (buggy) evaluator had recorded it
        forged = Envelope(event_id="forged-decision", event_type="DecisionMade", key="app-ghost",
                          occurred_at=scenario.now(), recorded_at=scenario.now(), source="evaluator", payload={
                              "decision_id": "forged-decision", "application_id": "app-ghost",
                              "stage_id": "stage-screen", "rule_set_version": 1, "rule_id": "screen-rule",
                              "outcome": "advance", "mode": "live", "decided_at": scenario.now().isoformat()})
        await publish(svc, *[forged])
        await eventually(lambda: svc.fetchval("SELECT count(*) = 1 FROM event_log WHERE event_id = 'forged-decision'"))
        out = tmp_path / "verify.json"
        settings = Settings(database_url=infra.database_url, data_dir=infra.data_dir)
        assert await cli_replay.run(replay_args(verify=True, out=out), settings) == 1
        defects = orjson.loads(out.read_bytes())["defects"]
        assert [(d["kind"], d["application_id"]) for d in defects] == [("missing", "app-ghost")]


async def test_an_invalid_replay_request_is_refused_with_located_problems(infra):
    async with running_service(infra, roles=[]) as svc:
        doc = scenario.rules()
        doc["rules"][0]["requirements"][0]["operator"] = "=>"
        resp = await svc.client.post("/api/replays", json={"rules": doc, "since": "last tuesday", "colour": 1})
        assert resp.status_code == 400
        locations = {p["location"] for p in resp.json()["extra"]["problems"]}
        assert "rules.rules[0].requirements[0].operator" in locations
        assert {"since", "colour"} <= locations
        for workers in (0, 9, "2", True):
            bad = await svc.client.post("/api/replays", json={"verify": True, "workers": workers})
            assert bad.status_code == 400
            assert bad.json()["extra"]["problems"] == [{"location": "workers",
                                               "message": "should be a whole number from 1 to 8"}], workers
        backwards = await svc.client.post("/api/replays", json={"verify": True, "since": "2026-03-01",
                                                                "until": "2026-02-01"})
        assert backwards.status_code == 400
        assert backwards.json()["extra"]["problems"] == [{"location": "since", "message": "is after `until`: nothing to report"}]
        assert (await svc.client.post("/api/replays", content=b"rules: [unclosed",
                                      headers={"Content-Type": "application/yaml"})).status_code == 400
        bare = await svc.client.post("/api/replays", json=scenario.rules())  # a rule set, not a request
        assert bare.status_code == 400
        assert [p["location"] for p in bare.json()["extra"]["problems"]] == ["body"]
        assert "this is a rule set, not a replay request" in bare.json()["extra"]["problems"][0]["message"]
        anonymous = await svc.client.post("/api/replays", json={"verify": True}, headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert (await svc.client.get("/api/replays/nope")).status_code == 404
        assert ADMIN_TOKEN  # the client is authenticated by default
        assert await stream_messages(infra.nats_url, subjects.EVENTS_STREAM) == []


async def test_a_replay_whose_process_stopped_is_reported_failed_not_running_forever(infra):
    async with running_service(infra, roles=[]) as svc:
        await svc.fetch(
            """INSERT INTO replays (replay_id, status, request, created_at, heartbeat_at) VALUES
               ('died', 'running', '{}', now() - interval '10 minutes', now() - interval '5 minutes'),
               ('before-heartbeats', 'running', '{}', now() - interval '2 hours', NULL),
               ('alive', 'running', '{}', now() - interval '10 minutes', now() - interval '2 seconds')""")
        died = (await svc.client.get("/api/replays/died")).json()
        assert died["status"] == "failed" and died["finished_at"]
        assert died["error"].startswith("interrupted: the process running this replay stopped"), died["error"]
        listed = {r["replay_id"]: r for r in (await svc.client.get("/api/replays")).json()}
        assert listed["before-heartbeats"]["status"] == "failed"
        assert listed["alive"]["status"] == "running" and listed["alive"]["error"] is None
        page = await svc.client.get("/api/replays/died", params={"format": "html"})
        assert page.status_code == 409 and page.json()["status"] == "failed"

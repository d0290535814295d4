"""Erasure on an immutable log, against the real thing: a candidate with a distinctive name and email
goes through the whole pipeline (signed webhooks, polled snapshots and feedback, a rejection
proposal in Slack, the recruiter's click after the erasure, the archive in Ashby); after `erase`, no byte of the JetStream store, no text in any Postgres table and no
file of PostgreSQL's data directory (after CHECKPOINT) holds the name or email, the API shows
"(erased)", and `replay --verify` still reproduces every decision."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from contracts.pii import ERASED
from runtime import cli_replay
from runtime.settings import Settings
from sandbox.ashby import sandbox_id
from sandbox.scenarios import RECRUITER_EMAIL, demo_rules, demo_scenario, technical_schedule
from support import eventually, running_service

NAME = "Zephyrine Quaxley-Thorncastle"
EMAIL = "zq.thorncastle.8213@example.org"
NEEDLES = (NAME.encode(), EMAIL.encode(), b"Quaxley", b"thorncastle.8213")


def files_holding(root: Path, needles: tuple[bytes, ...]) -> dict[str, list[str]]:
    """Which files under `root` contain which needles (every file read whole, as bytes)."""
    found: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        hits = [n.decode() for n in needles if n in data]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


async def tables_holding(svc, needles: tuple[str, ...]) -> dict[str, list[str]]:
    """Which tables of the service's database have a row whose text (every column) contains a needle."""
    tables = [r["t"] for r in await svc.fetch(
        "SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")]
    found: dict[str, list[str]] = {}
    for table in tables:
        hits = [n for n in needles
                if await svc.fetchval(f"SELECT count(*) FROM {table} t WHERE t::text ILIKE '%' || $1 || '%'", n)]
        if hits:
            found[table] = hits
    return found


async def story_done(svc, app_id: str) -> bool:
    types = {r["event_type"] for r in await svc.fetch("SELECT event_type FROM event_log WHERE key = $1", app_id)}
    return {"ApplicationSnapshotted", "DecisionMade", "RecruiterDecided", "CommandSucceeded",
            "AshbyWebhookReceived"} <= types


async def _async(value):
    return value


async def test_an_erased_candidate_is_in_no_stored_byte_and_the_log_still_replays(
        infra, sandbox_ashby, sandbox_slack, session_dir, tmp_path, capfd):
    ashby, slack = sandbox_ashby, sandbox_slack
    ashby.load_scenario(demo_scenario())
    ashby.add_application("zq", NAME, "backend", "technical", candidate_email=EMAIL)
    app_id, candidate_id = sandbox_id("application", "zq"), sandbox_id("candidate", "zq")
    slack.add_user("U0RITA", RECRUITER_EMAIL, "Rita Recruiter")
    async with running_service(infra, ashby_api_url=ashby.base_url, ashby_api_key=ashby.api_key,
                               slack_api_url=slack.base_url, slack_bot_token=slack.token,
                               slack_signing_secret=slack.signing_secret, metadata_poll_interval_s=3600,
                               feedback_poll_interval_s=1) as svc:
        ashby.webhook_url = f"{svc.client.base_url}/webhooks/ashby"
        ashby.webhook_secret = svc.settings.secret("ashby_webhook_secret")
        resp = await svc.client.post("/api/rulesets", json=demo_rules())
        assert resp.status_code == 201, resp.text
        ashby.load_scenario({"schedules": [technical_schedule("s-zq", app_id, "Scheduled")]})
        for user, score in {"ivan": 4, "iris": 2}.items():
            ashby.submit_feedback(f"zq-{user}", app_id, "technical", user, {"overall_recommendation": score})
        ashby.set_schedule_status("s-zq", "WaitingOnFeedback")
        [proposal] = await eventually(lambda: _async(slack.messages), timeout=40, message="no Slack proposal")
        assert NAME in orjson.dumps(proposal).decode()  # Slack is told the name, through the one lookup

        # before erasure: the name is readable through that lookup, yet never stored in clear
        shown = (await svc.client.get(f"/api/candidates/{candidate_id}")).json()
        assert shown["name"] == NAME
        [sealed] = [r["payload"] for r in await svc.fetch(
            "SELECT payload FROM event_log WHERE key = $1 AND event_type = 'ApplicationSnapshotted' "
            "ORDER BY stream_seq LIMIT 1", app_id)]
        assert sealed["raw"]["candidate"]["id"] == candidate_id and "name" not in sealed["raw"]["candidate"]
        opened = await svc.services.publisher.vault.open_payload(sealed)
        assert opened["raw"]["candidate"]["name"] == NAME
        assert opened["raw"]["candidate"]["primaryEmailAddress"]["value"] == EMAIL

        resp = await svc.client.post(f"/api/candidates/{candidate_id}/erase", params={"by": "dpo"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["newly_erased"] is True
        again = await svc.client.post(f"/api/candidates/{candidate_id}/erase")
        assert again.status_code == 200 and again.json()["newly_erased"] is False
        assert again.json()["event_id"] == resp.json()["event_id"]  # one CandidateErased, whatever the retries

        # the recruiter archives after the erasure: the pipeline goes on, Slack's update says "(erased)"
        click = await slack.simulate_click(f"{svc.client.base_url}/slack/interactions", proposal, "archive",
                                           "U0RITA")
        assert click.status_code == 200
        await eventually(lambda: story_done(svc, app_id), timeout=40,
                         message="the candidate's story (snapshot, decision, click, archive, stage-change webhook)")
        assert ashby.stage("zq")["type"] == "Archived"
        [update, *_] = await eventually(lambda: _async(slack.updates), message="the proposal was not updated")
        assert ERASED in orjson.dumps(update).decode() and NAME not in orjson.dumps(update).decode()

        await eventually(lambda: svc.fetchval("SELECT count(*) FROM event_log WHERE event_type = 'CandidateErased' "
                                              "AND key = $1", candidate_id), message="CandidateErased not logged")
        [erased] = await svc.fetch("SELECT payload FROM event_log WHERE event_type = 'CandidateErased'")
        assert erased["payload"] == {"candidate_id": candidate_id, "erased_by": "dpo", "reason": "request"}
        shown = (await svc.client.get(f"/api/candidates/{candidate_id}")).json()
        assert shown["name"] == ERASED and shown["privacy"]["erased_at"]
        reopened = await svc.services.publisher.vault.open_payload(sealed)
        assert reopened["raw"]["candidate"].get("erased") is True and "name" not in reopened["raw"]["candidate"]
        console = await svc.client.get(f"/ui/applications/{app_id}")
        assert console.status_code == 200
        assert ERASED in console.text and NAME not in console.text
        assert (await svc.client.get("/health")).json()["dead_letters"] == 0  # no consumer choked on any of it

        # the database: every column of every table, as text
        assert await tables_holding(svc, (NAME, EMAIL, "Quaxley")) == {}
        assert "public.event_log" in await tables_holding(svc, (app_id,))  # the search does see stored text

        # the JetStream store, byte for byte (flushed: the server writes its blocks as it goes)
        store = infra.nats_server.data_dir if infra.nats_server else None
        if store is not None:
            assert files_holding(Path(store), NEEDLES) == {}
            assert files_holding(Path(store), (app_id.encode(),))  # the grep does read the stream's files

        # PostgreSQL's own files (heap, WAL, logs) after a checkpoint: nothing was ever written in clear
        pg_dir = session_dir / "pg"
        if pg_dir.exists():
            await svc.fetchval("CHECKPOINT")
            assert files_holding(pg_dir, NEEDLES) == {}
            assert files_holding(pg_dir, (app_id.encode(),))  # the grep does read the database's files

        # the log still replays: every recorded decision reproduced
        settings = Settings(database_url=infra.database_url, data_dir=infra.data_dir)
        report = tmp_path / "verify.json"
        args = argparse.Namespace(command="replay", rules=None, against="CURRENT", since=None, until=None,
                                  format="json", out=report, verify=True, limit=50, workers=None, no_progress=True)
        assert await cli_replay.run(args, settings) == 0
        verified = orjson.loads(report.read_bytes())["summary"]["verify"]
        assert verified["ok"] is True and verified["recorded"] >= 1

    logs = capfd.readouterr()
    for needle in (NAME, EMAIL):
        assert needle not in logs.out and needle not in logs.err

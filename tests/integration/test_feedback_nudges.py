"""Feedback nudges and stage SLAs over real JetStream + Postgres with the sandbox Ashby and Slack, on a
virtual clock (the evaluator's timers fire when the clock says so): a nudge once at the due time,
the escalation later and only in business hours, nothing for feedback that came in time, and no
repeat on re-evaluation, redelivery or restart."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson

from contracts import subjects
from contracts.envelope import Envelope
from ingest.ashby_events import application_envelope, feedback_envelope
from sandbox.ashby import iso, sandbox_id
from sandbox.scenarios import RECRUITER_EMAIL, base_scenario, demo_rules
from support import activate, eventually, publish, running_service, stream_messages

BERLIN = ZoneInfo("Europe/Berlin")
RITA, IVAN, IRIS, HANK = "U0RITA", "U0IVAN", "U0IRIS", "U0HANK"


def berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def rules(**defaults: str) -> dict:
    doc = demo_rules()
    doc["defaults"] = {"quiet_period": "0s", "timeout": "30d", "feedback_due": "24h", "escalate_after": "4h",
                       **defaults}
    return doc


@asynccontextmanager
async def service(infra, ashby, slack, clock):
    async with running_service(infra, roles=["projectors", "evaluator", "notifier"], clock=clock,
                               ashby_api_url=ashby.base_url, ashby_api_key=ashby.api_key,
                               slack_api_url=slack.base_url, slack_bot_token=slack.token,
                               slack_signing_secret=slack.signing_secret, business_hours="09:00-18:00",
                               business_tz="Europe/Berlin", business_days="Mon-Fri") as svc:
        yield svc


async def interviewed(svc, ashby, clock, key: str, ended: datetime) -> str:
    """Ivan and Iris interviewed the candidate (ended at `ended`); the facts reach the evaluator."""
    ashby.clock = clock
    doc = base_scenario([{"key": key, "candidate": "Sam Strong", "job": "backend", "stage": "technical"}])
    doc["users"].append({"key": "hank", "first_name": "Hank", "last_name": "Manager", "email": "hank@example.com"})
    doc["jobs"][0]["hiring_manager"] = "hank"
    app_id = ashby.load_scenario(doc)["applications"][key]
    schedule = ashby.set_schedule(f"s-{key}", app_id, "WaitingOnFeedback", [
        {"interview": "technical", "interviewers": ["ivan", "iris"], "start": iso(ended - timedelta(hours=1)),
         "end": iso(ended)}])
    env = Envelope(event_id=str(uuid.uuid4()), event_type="InterviewScheduleUpdated", key=app_id,
                   occurred_at=clock(), recorded_at=clock(), source="ashby",
                   payload={"action": "interviewScheduleUpdate", "schedule": schedule})
    await publish(svc, application_envelope(ashby.application_info(app_id), clock()), env)
    return app_id


async def pending(svc, app_id: str) -> dict | None:
    rows = (await svc.client.get("/api/pending", params={"application_id": app_id})).json()
    return rows[0] if rows else None


async def due_known(svc, app_id: str) -> dict | None:
    """The pending row once the evaluator knows when the feedback is due (the schedule is in)."""
    row = await pending(svc, app_id)
    return row if row and row["feedback_due_at"] else None


async def evaluated_at(svc, app_id: str, at: datetime) -> dict:
    """Ask for an evaluation now and wait until the evaluator made it (at the virtual time `at`)."""
    assert (await svc.client.post(f"/api/applications/{app_id}/evaluate")).status_code == 202

    async def done():
        row = await pending(svc, app_id)
        return row if row and datetime.fromisoformat(row["updated_at"]) == at else None

    return await eventually(done, message="the evaluation did not happen")


async def story(svc, app_id: str) -> list[dict]:
    return (await svc.client.get("/api/events", params={"key": app_id})).json()["events"]


async def has_event(svc, app_id: str, event_type: str) -> list[dict]:
    return [e for e in await story(svc, app_id) if e["event_type"] == event_type]


def dms(slack, user: str) -> list[dict]:
    return [m for m in slack.messages if m["channel"] == slack.dm_id(user)]


async def test_a_nudge_goes_once_at_the_due_time_and_the_escalation_waits_for_business_hours(
        infra, sandbox_ashby, sandbox_slack):
    ashby, slack = sandbox_ashby, sandbox_slack
    slack.add_user(RITA, RECRUITER_EMAIL, "Rita Recruiter")
    slack.add_user(IVAN, "ivan@example.com", "Ivan Interviewer")  # Iris has no Slack account
    slack.add_user(HANK, "hank@example.com", "Hank Manager")
    clock = Clock(berlin(2026, 12, 14, 15, 0))  # Monday 15:00 in Berlin
    async with service(infra, ashby, slack, clock) as svc:
        await activate(svc, rules())
        app_id = await interviewed(svc, ashby, clock, "late", ended=berlin(2026, 12, 11, 16, 0))  # Friday 16:00
        due = berlin(2026, 12, 14, 16, 0)  # 24h of weekdays after Friday 16:00: Monday 16:00

        row = await eventually(lambda: due_known(svc, app_id), message="not pending")
        assert datetime.fromisoformat(row["fire_at"]) == due
        assert datetime.fromisoformat(row["feedback_due_at"]) == due
        assert (await svc.client.get("/api/overdue")).json()["applications"] == []
        assert slack.messages == []

        clock.at = due + timedelta(seconds=5)  # the timer fires
        [nudge] = await eventually(lambda: _async(dms(slack, IVAN)), message="Ivan was not nudged")
        text = orjson.dumps(nudge).decode()
        assert "Sam Strong" in text and "Technical interview" in text
        assert "interview-briefings/" in text and "/feedback" in text  # Ashby's link to the feedback form
        assert "@example.com" not in text and "candidates.example" not in text
        [sent] = await eventually(lambda: has_event(svc, app_id, "FeedbackNudgeSent"), message="no event")
        assert sent["payload"]["interviewer_id"] == sandbox_id("user", "ivan")
        assert datetime.fromisoformat(sent["payload"]["due_at"]) == due
        view = (await svc.client.get(f"/api/applications/{app_id}")).json()
        assert [n["event_type"] for n in view["nudges"]] == ["FeedbackNudgeSent"]
        [skipped] = await eventually(lambda: has_event(svc, app_id, "CommandSkipped"), message="Iris not skipped")
        assert skipped["payload"]["command_type"] == "NudgeInterviewer" and "Slack" in skipped["payload"]["reason"]

        row = await eventually(lambda: _with_nudge_status(svc, app_id), message="the nudge is not on /api/pending")
        assert {n["interviewer_id"]: n["status"] for n in row["nudges"]} == {
            sandbox_id("user", "ivan"): "sent", sandbox_id("user", "iris"): "skipped"}
        tuesday_opening = berlin(2026, 12, 15, 9, 0)  # Monday 16:00 + 4h = 20:00: closed until Tuesday 09:00
        assert datetime.fromisoformat(row["fire_at"]) == tuesday_opening
        overdue = (await svc.client.get("/api/overdue")).json()["applications"]
        assert [a["application_id"] for a in overdue] == [app_id]
        assert {i["interviewer_id"]: i["nudge"] for i in overdue[0]["interviewers"]} == {
            sandbox_id("user", "ivan"): "sent", sandbox_id("user", "iris"): "skipped"}

        clock.at = berlin(2026, 12, 14, 20, 0, 5)  # escalation time, but outside business hours
        row = await evaluated_at(svc, app_id, clock.at)
        assert datetime.fromisoformat(row["fire_at"]) == tuesday_opening
        assert dms(slack, RITA) == [] and len(dms(slack, IVAN)) == 1

        clock.at = tuesday_opening + timedelta(seconds=5)
        [escalation] = await eventually(lambda: _async(dms(slack, RITA)), message="the recruiter was not told")
        text = orjson.dumps(escalation).decode()
        assert "Ivan Interviewer" in text and "Iris Interviewer" in text and "Sam Strong" in text
        assert "@example.com" not in text
        [escalated] = await eventually(lambda: has_event(svc, app_id, "FeedbackEscalated"), message="no event")
        assert escalated["payload"]["recipients"] == ["Recruiter", "Hiring Manager"]
        [to_manager] = dms(slack, HANK)
        assert to_manager["blocks"] == escalation["blocks"]
        assert {i["interviewer_id"] for i in escalated["payload"]["late"]} == {sandbox_id("user", "ivan"),
                                                                               sandbox_id("user", "iris")}
        overdue = (await svc.client.get("/api/overdue")).json()["applications"]
        assert overdue[0]["late_by_s"] == (clock.at - due).total_seconds()

        clock.at += timedelta(minutes=30)  # a later evaluation repeats nothing
        await evaluated_at(svc, app_id, clock.at)
        assert len(dms(slack, IVAN)) == 1 and len(dms(slack, RITA)) == 1 and len(dms(slack, HANK)) == 1

        # the nudge command delivered again (past JetStream's dedupe): the notifier's inbox drops it
        [(subject, _, body)] = [m for m in await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)
                                if m[2]["event_type"] == "NudgeInterviewer"
                                and m[2]["payload"]["interviewer_id"] == sandbox_id("user", "ivan")]
        await svc.services.nc.jetstream().publish(subject, orjson.dumps(body), headers={"Nats-Msg-Id": "again"})
        await eventually(lambda: _idle(svc), message="the notifier did not settle")
        assert len(dms(slack, IVAN)) == 1

    clock.at += timedelta(hours=1)  # restart: the timers and records are durable, nothing is sent again
    async with service(infra, ashby, slack, clock) as svc:
        await evaluated_at(svc, app_id, clock.at)
        await eventually(lambda: _idle(svc), message="the pipeline did not settle")
        assert len(dms(slack, IVAN)) == 1 and len(dms(slack, RITA)) == 1
        assert len(await has_event(svc, app_id, "FeedbackNudgeSent")) == 1


async def test_feedback_in_before_the_due_time_gets_no_nudge(infra, sandbox_ashby, sandbox_slack):
    ashby, slack = sandbox_ashby, sandbox_slack
    slack.add_user(IVAN, "ivan@example.com", "Ivan Interviewer")
    slack.add_user(IRIS, "iris@example.com", "Iris Interviewer")
    clock = Clock(berlin(2026, 12, 14, 15, 0))
    async with service(infra, ashby, slack, clock) as svc:
        await activate(svc, rules(escalate_after="30d"))
        app_id = await interviewed(svc, ashby, clock, "prompt", ended=berlin(2026, 12, 11, 16, 0))
        await eventually(lambda: due_known(svc, app_id), message="not pending")
        clock.at = berlin(2026, 12, 14, 15, 30)
        item = ashby.submit_feedback("prompt-ivan", app_id, "technical", "ivan", {"overall_recommendation": 4})
        await publish(svc, feedback_envelope(item, clock()))

        async def one_left():
            row = await pending(svc, app_id)
            return row if row and len(row["waiting_for"]) == 1 else None

        await eventually(one_left, message="Ivan's feedback was not taken in")
        clock.at = berlin(2026, 12, 14, 16, 0, 5)
        [sent] = await eventually(lambda: has_event(svc, app_id, "FeedbackNudgeSent"), message="Iris not nudged")
        assert sent["payload"]["interviewer_id"] == sandbox_id("user", "iris")
        await eventually(lambda: _idle(svc), message="the pipeline did not settle")
        assert len(dms(slack, IRIS)) == 1 and dms(slack, IVAN) == []


async def test_a_shadow_rule_records_when_feedback_is_due_and_nudges_nobody(infra, sandbox_ashby, sandbox_slack):
    ashby, slack = sandbox_ashby, sandbox_slack
    slack.add_user(IVAN, "ivan@example.com", "Ivan Interviewer")
    clock = Clock(berlin(2026, 12, 14, 16, 30))  # already past the due time
    async with service(infra, ashby, slack, clock) as svc:
        await activate(svc, {**rules(), "rules": [{**demo_rules()["rules"][0], "mode": "shadow"}]})
        app_id = await interviewed(svc, ashby, clock, "shadow", ended=berlin(2026, 12, 11, 16, 0))
        row = await eventually(lambda: due_known(svc, app_id), message="not pending")
        assert datetime.fromisoformat(row["feedback_due_at"]) == berlin(2026, 12, 14, 16, 0)
        assert datetime.fromisoformat(row["fire_at"]) > clock.at + timedelta(days=20)  # the stage timeout only
        assert [a["application_id"] for a in (await svc.client.get("/api/overdue")).json()["applications"]] == [app_id]
        await eventually(lambda: _idle(svc), message="the pipeline did not settle")
        assert slack.messages == []


async def _with_nudge_status(svc, app_id: str) -> dict | None:
    row = await pending(svc, app_id)
    if row and len(row.get("nudges") or []) == 2 and all(n["status"] != "issued" for n in row["nudges"]):
        return row
    return None


async def _idle(svc) -> bool:
    js = svc.services.nc.jetstream()
    for name in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM):
        for info in await js.consumers_info(name):
            if info.num_pending or info.num_ack_pending:
                return False
    async with svc.services.pool.acquire() as conn:
        return not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def _async(value):
    return value

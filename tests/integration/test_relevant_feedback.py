"""Only relevant feedback counts (docs/rules.md): an interviewer's, for a known interview event of
a non-cancelled schedule of the stage, latest version only; the rest is listed with its reason.
A rule that can never act (the last stage, no target) alerts the admins once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts import subjects
from contracts.envelope import Envelope
from contracts.ids import derive_id
from ingest.ashby_events import feedback_envelope
from support import (
    activate,
    eventually,
    publish,
    running_service,
    scenario,
    schedule_payload,
    stream_messages,
)


def feedback(app: str, feedback_id: str, user: str | None, score: Any, *, event: str | None = "default",
             minutes: int = 0) -> Envelope:
    at = scenario.now() + timedelta(minutes=minutes)
    item: dict[str, Any] = {"id": feedback_id, "applicationId": app, "submittedAt": at.isoformat(),
                            "interviewId": "interview-1", "formDefinition": {"id": "form-1"},
                            "submittedValues": {"overall": score}}
    if user is not None:
        item["submittedByUser"] = {"id": user}
    if event is not None:
        item["interviewEventId"] = f"ev-sched-{app}" if event == "default" else event
    return feedback_envelope(item, at)


async def _decision(svc, app: str) -> dict | None:
    rows = (await svc.client.get("/api/decisions", params={"application_id": app})).json()
    return rows[0] if rows else None


async def test_irrelevant_feedback_cannot_turn_an_advance_into_a_rejection_and_is_listed_with_its_reason(infra):
    app = "app-relevant"
    async with running_service(infra, roles=["evaluator"]) as svc:
        await activate(svc, scenario.rules())
        await publish(svc, *scenario.catalog_events(), scenario.snapshot(app), scenario.schedule(app))
        await publish(svc,
                      feedback(app, "fb-no-event", "u1", 1, event=None),  # names no interview event
                      feedback(app, "fb-unknown-event", "u2", 1, event="ev-nobody-knows"),
                      feedback(app, "fb-no-submitter", None, 1),
                      feedback(app, "fb-outsider", "u9", 1),  # not an interviewer of the event
                      feedback(app, "fb-u1-first", "u1", 1, minutes=-10),  # replaced by u1's later one
                      feedback(app, "fb-u1", "u1", 4),
                      feedback(app, "fb-u2", "u2", 3))
        decision = await eventually(lambda: _decision(svc, app), message="no decision")
        assert decision["outcome"] == "advance", decision["explanation"]
        explanation = decision["explanation"]
        assert explanation["feedback_ids"] == ["fb-u1", "fb-u2"]
        ignored = {i["feedback_id"]: i["reason"] for i in explanation["ignored_feedback"]}
        assert set(ignored) == {"fb-no-event", "fb-unknown-event", "fb-no-submitter", "fb-outsider", "fb-u1-first"}
        assert "names no interview event" in ignored["fb-no-event"]
        assert "no schedule of this stage has" in ignored["fb-unknown-event"]
        assert "no submitter" in ignored["fb-no-submitter"]
        assert "not an interviewer" in ignored["fb-outsider"]
        assert "replaced by the later submission fb-u1" in ignored["fb-u1-first"]


def rescheduled(app: str) -> Envelope:
    """A second, live schedule of the same stage with other interviewers (the first was cancelled)."""
    raw = schedule_payload(app, schedule_id=f"sched2-{app}", status="WaitingOnFeedback", stage_id="stage-screen",
                           interviewers=["u3", "u4"], updated_at=scenario.now().isoformat())["data"]["interviewSchedule"]
    raw["createdAt"] = scenario.now().isoformat()
    return Envelope(event_id=derive_id("test-schedule-2", app), event_type="InterviewScheduleUpdated", key=app,
                    occurred_at=scenario.now(), recorded_at=scenario.now(), source="ashby",
                    payload={"action": "interviewScheduleUpdate", "schedule": raw})


async def test_feedback_of_a_cancelled_schedule_does_not_count(infra):
    app = "app-cancelled"
    async with running_service(infra, roles=["evaluator"]) as svc:
        await activate(svc, scenario.rules())
        await publish(svc, *scenario.catalog_events(), scenario.snapshot(app), scenario.schedule(app, "Cancelled"),
                      rescheduled(app))
        await publish(svc, feedback(app, "fb-c1", "u1", 1), feedback(app, "fb-c2", "u2", 1),
                      feedback(app, "fb-n3", "u3", 4, event=f"ev-sched2-{app}"),
                      feedback(app, "fb-n4", "u4", 4, event=f"ev-sched2-{app}"))
        decision = await eventually(lambda: _decision(svc, app), message="no decision")
        assert decision["outcome"] == "advance", decision["explanation"]
        ignored = {i["feedback_id"]: i["reason"] for i in decision["explanation"]["ignored_feedback"]}
        assert set(ignored) == {"fb-c1", "fb-c2"} and all("was cancelled" in r for r in ignored.values())




def _offer_schedule(app: str) -> Envelope:
    raw = schedule_payload(app, status="WaitingOnFeedback", stage_id="stage-offer", interviewers=["u1"],
                           updated_at=scenario.now().isoformat())["data"]["interviewSchedule"]
    raw["createdAt"] = scenario.now().isoformat()
    return Envelope(event_id=derive_id("offer-schedule", app), event_type="InterviewScheduleUpdated", key=app,
                    occurred_at=scenario.now(), recorded_at=scenario.now(), source="ashby",
                    payload={"action": "interviewScheduleUpdate", "schedule": raw})


async def test_a_rule_on_the_last_stage_without_a_target_alerts_the_admins_once(infra):
    rules = scenario.rules()
    rules["rules"][0]["stage_id"] = "stage-offer"
    async with running_service(infra, roles=["evaluator"]) as svc:
        await activate(svc, rules)
        await publish(svc, *scenario.catalog_events())
        for app in ("app-last-1", "app-last-2"):
            await publish(svc, scenario.snapshot(app, stage="stage-offer"), _offer_schedule(app),
                          feedback(app, f"fb-{app}", "u1", 4))

        async def alerts():
            msgs = await stream_messages(infra.nats_url, subjects.COMMANDS_STREAM)
            return [b for s, _, b in msgs if s.startswith("cmd.slack.alert.")]

        [alert, *more] = await eventually(alerts, message="no admin alert")
        assert not more, [m["payload"] for m in more]
        assert alert["payload"]["kind"] == "rule_cannot_act" and "screen-rule" in alert["payload"]["text"]
        await eventually(lambda: svc.fetchval("SELECT count(*) = 2 FROM evaluator_pending"),
                         message="both applications not evaluated")
        assert len(await alerts()) == 1

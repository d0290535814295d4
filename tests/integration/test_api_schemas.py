"""The answers of /api/decisions, /api/pending, /api/applications/{id} and /api/events are real
schemas in the OpenAPI document (typed, with the enumerations a client switches on), and what the
service actually answers validates against them."""

from __future__ import annotations

from typing import Any, get_args

import jsonschema
from test_end_to_end import _async, _has, interview, pipeline

from evaluator.api_models import DecisionStatus, WaitKind
from sandbox.scenarios import demo_rules, stage
from support import eventually


def _response_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _validate(spec: dict[str, Any], path: str, body: Any) -> None:
    jsonschema.Draft202012Validator({**_response_schema(spec, path), "components": spec["components"]}).validate(body)


def _enum(schema: dict[str, Any]) -> set[str]:
    """The enumeration of a property, whether written as `enum` or as a nullable `oneOf`."""
    if "enum" in schema:
        return set(schema["enum"])
    return {v for s in schema.get("oneOf", []) + schema.get("anyOf", []) for v in s.get("enum", [])}


async def test_the_read_apis_have_typed_schemas_with_enums_and_their_answers_validate(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        spec = (await svc.client.get("/schema/openapi.json")).json()

        decisions = _response_schema(spec, "/api/decisions")
        assert decisions["type"] == "array"
        decision = _resolve(spec, decisions["items"])
        assert decision["type"] == "object" and {"decision_id", "status", "outcome", "explanation"} <= set(
            decision["required"])
        assert _enum(decision["properties"]["status"]) == set(get_args(DecisionStatus))
        assert {"pending", "succeeded", "failed", "awaiting_recruiter"} <= _enum(decision["properties"]["status"])
        assert _enum(decision["properties"]["outcome"]) == {"advance", "propose_rejection", "archive", "timeout"}

        pending = _resolve(spec, _response_schema(spec, "/api/pending")["items"])
        waiting = _resolve(spec, pending["properties"]["waiting_for"]["items"])
        assert _enum(waiting["properties"]["kind"]) == set(get_args(WaitKind))
        assert {"feedback", "interview_not_scheduled", "not_applicable"} <= _enum(waiting["properties"]["kind"])

        application = _resolve(spec, _response_schema(spec, "/api/applications/{application_id}"))
        assert {"application_id", "schedules", "feedback", "commands"} <= set(application["properties"])
        page = _resolve(spec, _response_schema(spec, "/api/events"))
        event = _resolve(spec, page["properties"]["events"]["items"])
        assert {"stream_seq", "event_type", "payload"} <= set(event["required"])

        strong = interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 4})  # advanced
        weak = interview(sandbox_ashby, "weak", {"ivan": 4})  # waits for iris's feedback
        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=30,
                         message="not advanced")
        await eventually(lambda: _has(svc, strong, "CommandSucceeded"), timeout=30, message="no CommandSucceeded")

        async def waiting_for_feedback() -> list:
            rows = (await svc.client.get("/api/pending", params={"application_id": weak})).json()
            return [w for r in rows for w in r["waiting_for"] if w["kind"] == "feedback"]

        await eventually(waiting_for_feedback, timeout=30, message="the weak candidate is not waiting for feedback")

        async def succeeded() -> list:
            rows = (await svc.client.get("/api/decisions", params={"application_id": strong})).json()
            return [d for d in rows if d["status"] == "succeeded"]

        await eventually(succeeded, timeout=30, message="the decision does not show as succeeded")
        answers = {
            "/api/decisions": (await svc.client.get("/api/decisions")).json(),
            "/api/pending": (await svc.client.get("/api/pending")).json(),
            "/api/applications/{application_id}": (await svc.client.get(f"/api/applications/{strong}")).json(),
            "/api/events": (await svc.client.get("/api/events", params={"key": strong})).json(),
        }
        assert answers["/api/decisions"] and answers["/api/pending"]
        assert answers["/api/applications/{application_id}"]["commands"] and answers["/api/events"]["events"]
        for path, body in answers.items():
            _validate(spec, path, body)
        broken = [dict(answers["/api/decisions"][0], status="archived_hopefully")]
        try:
            _validate(spec, "/api/decisions", broken)
        except jsonschema.ValidationError:
            pass
        else:
            raise AssertionError("a status outside the enumeration validated")

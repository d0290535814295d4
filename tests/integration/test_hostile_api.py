"""Hostile requests to the API and the Slack endpoint: every parameter validated by its declared
type, one error shape, unknown ids 404, a rule-file bomb refused fast without stalling anyone."""

from __future__ import annotations

import asyncio
import time

from slack_sdk.signature import SignatureVerifier

from contracts import subjects
from support import eventually, running_service, schedule_payload, stream_messages

SLACK_SECRET = "test-slack-signing-secret"
BOMB = "\n".join(["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
                 + [f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
                 + ["name: x", "rules: *i"])


def _is_error_shape(resp) -> bool:
    body = resp.json()
    return set(body) <= {"status_code", "detail", "extra"} and body["status_code"] == resp.status_code \
        and isinstance(body["detail"], str) and body["detail"] != ""


async def test_bad_query_and_path_parameters_answer_400_with_the_reason_never_500(infra):
    async with running_service(infra, roles=[]) as svc:
        bad = [
            ("/api/events", {"key": "a\x00b"}),
            ("/api/events", {"key": "k", "after_seq": str(2 ** 64)}),
            ("/api/events", {"key": "k", "after_seq": "-1"}),
            ("/api/events", {"key": "k", "limit": "-5"}),
            ("/api/events", {"key": "k", "limit": "5001"}),
            ("/api/metadata/stages", {"interview_plan_id": "\x00"}),
            ("/api/metadata/form-fields", {"form_definition_id": "x\x00"}),
            ("/api/decisions", {"application_id": "\x00"}),
            ("/api/decisions", {"limit": "0"}),
            ("/api/pending", {"application_id": "\x00"}),
            ("/api/replays", {"limit": "-5"}),
        ]
        for path, params in bad:
            resp = await svc.client.get(path, params=params)
            assert resp.status_code == 400, (path, params, resp.status_code, resp.text)
            assert _is_error_shape(resp) and resp.json()["extra"], resp.text
        for path in ("/api/applications/a%00b", "/api/metadata/jo%00bs", "/api/replays/r%00"):
            resp = await svc.client.get(path)
            assert resp.status_code == 400 and _is_error_shape(resp), (path, resp.text)
        ok = await svc.client.get("/api/events", params={"key": "k", "after_seq": str(2 ** 63 - 1), "limit": "5000"})
        assert ok.status_code == 200 and ok.json()["next_after_seq"] == 2 ** 63 - 1
        missing = await svc.client.get("/api/applications/nobody")
        assert missing.status_code == 404 and _is_error_shape(missing)


async def test_every_error_has_one_shape_webhooks_and_slack_included(infra):
    async with running_service(infra, roles=[], slack_signing_secret=SLACK_SECRET) as svc:
        answers = [
            await svc.post_webhook(schedule_payload("app-1"), secret="wrong"),
            await svc.post_webhook_raw(b"{not json"),
            await svc.client.get("/webhooks/ashby"),
            await svc.client.post("/slack/interactions", content=b"payload=%7B%7D"),
            await svc.client.get("/nowhere"),
            await svc.client.get("/api/rulesets", headers={"Authorization": "Bearer wrong"}),
            await svc.client.post("/api/rulesets/validate", content=b"name: [", headers={"Content-Type": "application/yaml"}),
            await svc.client.post("/api/rulesets/validate", content=b"#" * (1024 * 1024 + 1)),
            await svc.client.get("/api/replays/x", params={"format": "csv"}),
        ]
        assert [r.status_code for r in answers] == [401, 400, 405, 401, 404, 401, 400, 413, 400]
        for resp in answers:
            assert _is_error_shape(resp), (resp.request.url, resp.text)


async def test_a_slack_timestamp_that_is_not_a_plausible_time_is_401_before_anything_is_parsed(infra):
    async with running_service(infra, roles=[], slack_signing_secret=SLACK_SECRET) as svc:
        body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
        for ts in ("9" * 400, "-1", "1e9", "١٢٣", "1700000000.5", str(int(time.time()) - 301), ""):
            sig = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=ts, body=body)
            resp = await svc.client.post("/slack/interactions", content=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts.encode(),
                "X-Slack-Signature": sig})
            assert resp.status_code == 401 and _is_error_shape(resp), (ts, resp.status_code, resp.text)


async def test_a_yaml_bomb_is_refused_within_a_second_while_other_requests_answer_within_100_ms(infra):
    async with running_service(infra, roles=[]) as svc:
        async def timed(call):
            started = time.monotonic()
            resp = await call
            return resp, time.monotonic() - started

        async def others():
            return [await timed(svc.client.options("/api/rulesets")) for _ in range(5)]

        bomb_task = asyncio.create_task(timed(svc.client.post(
            "/api/rulesets/validate", content=BOMB.encode(), headers={"Content-Type": "application/yaml"})))
        quick = await others()
        bomb, bomb_took = await bomb_task
        assert bomb.status_code == 400 and bomb_took < 1.0, (bomb.status_code, bomb_took)
        assert _is_error_shape(bomb) and len(bomb.content) < 4096
        assert "more than" in bomb.json()["extra"]["problems"][0]["message"]
        assert all(r.status_code == 204 for r, _ in quick) and min(t for _, t in quick) < 0.1, quick


async def test_hostile_rule_documents_answer_4xx_with_short_bodies_that_never_echo_the_input(infra):
    async with running_service(infra, roles=[]) as svc:
        deep = "[" * 5000 + "]" * 5000
        cases = [
            (deep.encode(), "application/yaml", "nested deeper"),
            (deep.encode(), "application/json", "nested deeper"),
            (b"name: a\nname: b\n", "application/yaml", "duplicate key 'name' on line 2"),
            (b"name: \xff\xfe", "application/yaml", "not UTF-8"),
            (b'{"name": "n", "rules": [{"id": "r", "interview_plan_id": "p", "stage_id": "s", '
             b'"on_fail": {"action": "nothing"}, "requirements": [{"interview_id": "i", "field": "f", '
             b'"operator": ">=", "threshold": NaN}]}]}', "application/json", "rules[0].requirements[0].threshold"),
            (b"name: n\ndefaults: {timeout: 99999999999999999999999d}\n", "application/yaml", "defaults.timeout"),
            (b"name: n\nrules: [" + b"{}, " * 3000 + b"{}]\n", "application/yaml", "problem"),
        ]
        for body, content_type, expected in cases:
            for path in ("/api/rulesets/validate", "/api/rulesets"):
                resp = await svc.client.post(path, content=body, headers={"Content-Type": content_type})
                assert resp.status_code == 400 and _is_error_shape(resp), (path, expected, resp.status_code)
                assert expected in resp.text, (expected, resp.text[:500])
                assert len(resp.content) < 16_384
        many = resp.json()["extra"]
        assert len(many["problems"]) == 20 and many["problems_total"] > 3000
        assert await stream_messages(infra.nats_url, subjects.EVENTS_STREAM) == []


async def test_evaluating_an_application_that_does_not_exist_is_404_and_writes_nothing(infra):
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        resp = await svc.client.post("/api/applications/nobody/evaluate")
        assert resp.status_code == 404 and _is_error_shape(resp)
        assert await stream_messages(infra.nats_url, subjects.EVENTS_STREAM) == []
        assert (await svc.post_webhook(schedule_payload("app-known"))).status_code == 200
        await eventually(lambda: svc.fetchval("SELECT count(*) FROM evaluator_events WHERE application_id = 'app-known'"))
        assert (await svc.client.post("/api/applications/app-known/evaluate")).status_code == 202


async def test_the_openapi_document_is_the_whole_surface_and_the_docs_page_works_offline(infra):
    async with running_service(infra, roles=[]) as svc:
        doc = (await svc.client.get("/schema/openapi.json")).json()
        assert "post" in doc["paths"]["/webhooks/ashby"] and "post" in doc["paths"]["/slack/interactions"]
        assert doc["paths"]["/webhooks/ashby"]["post"]["responses"]["401"]["content"]["application/json"]["schema"] \
            == {"$ref": "#/components/schemas/ErrorBody"}
        allow = (await svc.client.options("/api/rulesets", headers={"Authorization": ""})).headers["allow"]
        assert set(allow.split(", ")) == {"GET", "POST", "OPTIONS"}
        assert (await svc.client.options("/webhooks/ashby")).headers["allow"] == "OPTIONS, POST"
        page = await svc.client.get("/schema")
        assert page.status_code == 200 and "https://" not in page.text and "http://" not in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
            assert f"/schema-assets/{asset}" in page.text
            assert (await svc.client.get(f"/schema-assets/{asset}")).status_code == 200
        home = await svc.client.get("/", follow_redirects=False)
        assert home.status_code in (302, 307) and home.headers["location"] in ("/schema", "/ui/")

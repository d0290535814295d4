"""`autoadvance rules validate|activate|show` against a running service (real NATS + Postgres)."""

from __future__ import annotations

import asyncio
import json

import httpx
import yaml

from contracts import subjects
from runtime.cli import main
from sandbox.scenarios import demo_rules
from support import ADMIN_TOKEN, eventually, publish, running_service, scenario, stream_messages

BAD = {"name": "broken", "rules": [
    {"id": "a", "stage_id": "s", "requirements": [], "on_fail": {"action": "archive"}},
    {"id": "b", "interview_plan_id": "p", "stage_id": "s2",
     "requirements": [{"interview_id": "i", "field": "f", "operator": "~=", "threshold": 3}]},
]}


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_validate_lists_every_problem_with_its_location(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(BAD))
    assert await cli("rules", "validate", str(path)) == 1
    err = capsys.readouterr().err
    for location in ("rules[0].interview_plan_id", "rules[0].requirements", "rules[0].on_fail",
                     "rules[1].requirements[0].operator"):
        assert location in err, err
    good = tmp_path / "good.json"
    good.write_text(json.dumps(demo_rules()))
    assert await cli("rules", "validate", str(good)) == 0


async def test_activate_refuses_an_invalid_set_and_activates_a_valid_one(infra, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ADMIN_API_TOKEN", ADMIN_TOKEN)
    bad, good = tmp_path / "bad.yaml", tmp_path / "good.yaml"
    bad.write_text(yaml.safe_dump(BAD))
    good.write_text(yaml.safe_dump(demo_rules()))
    async with running_service(infra, roles=["evaluator"]) as svc:
        url = str(svc.client.base_url)
        assert await cli("rules", "activate", str(bad), "--url", url) == 1
        assert (await svc.client.get("/api/rulesets")).json()["active_version"] is None
        assert await cli("rules", "show", "--url", url) == 0
        assert "no rule set is active" in capsys.readouterr().out

        assert await cli("rules", "activate", str(good), "--url", url) == 0
        assert "activated rule set version 1" in capsys.readouterr().out
        events = [b for _, _, b in await stream_messages(infra.nats_url, subjects.EVENTS_STREAM)
                  if b["event_type"] == "RuleSetActivated"]
        assert [e["payload"]["version"] for e in events] == [1]

        async def shown() -> str:
            await cli("rules", "show", "--url", url)
            return capsys.readouterr().out

        from support import eventually

        out = await eventually(lambda: _contains(shown, "version 1"), message="rules show did not list it")
        assert "technical-interview" in out


async def _contains(probe, text: str):
    out = await probe()
    return out if text in out else None


async def test_activate_without_a_service_says_so(tmp_path, capsys):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(demo_rules()))
    assert await cli("rules", "activate", str(good), "--url", "http://127.0.0.1:9") == 2
    assert "is it running" in capsys.readouterr().err


async def test_validate_and_activate_warn_about_a_rule_on_a_plans_last_stage_from_the_synced_plans(
        infra, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ADMIN_API_TOKEN", ADMIN_TOKEN)
    doc = scenario.rules()
    doc["rules"][0]["stage_id"] = "stage-offer"  # the plan's last stage before Archived; no target
    path = tmp_path / "last.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert await cli("rules", "validate", str(path), "--offline") == 0
    assert "warning" not in capsys.readouterr().err  # offline, the plan order is unknown
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        url = str(svc.client.base_url)
        await publish(svc, *scenario.catalog_events())

        async def synced() -> bool:
            return bool(await svc.fetchval("SELECT count(*) FROM interview_stages WHERE stage_id = 'stage-offer'"))

        await eventually(synced, message="the interview plan was not projected")
        assert await cli("rules", "validate", str(path), "--url", url) == 0
        err = capsys.readouterr().err
        assert "warning: rules[0].on_pass.target_stage_id" in err and "last stage of interview plan" in err, err

        assert await cli("rules", "activate", str(path), "--url", url) == 0
        out, err = capsys.readouterr()
        assert "activated rule set version 1" in out and "last stage of interview plan" in err, err
        async with httpx.AsyncClient(base_url=url) as browser:  # the console's rules page says the same
            await browser.post("/ui/login", data={"token": ADMIN_TOKEN})
            page = (await browser.get("/ui/rules")).text
            csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            shown = await browser.post("/ui/rules/validate", data={"csrf_token": csrf, "document": path.read_text()})
            assert shown.status_code == 200 and "last stage of interview plan" in shown.text, shown.text[-2000:]

        doc["rules"][0]["on_pass"] = {"action": "advance", "target_stage_id": "stage-screen"}
        path.write_text(yaml.safe_dump(doc))
        assert await cli("rules", "validate", str(path), "--url", url) == 0
        assert "warning" not in capsys.readouterr().err
        resp = await svc.client.post("/api/rulesets/validate", json=scenario.rules())
        assert resp.status_code == 200 and resp.json()["warnings"] == []

    assert await cli("rules", "validate", str(path), "--url", url) == 0  # the service is gone now
    assert "interview plans were not checked" in capsys.readouterr().err

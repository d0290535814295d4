"""The AsyncAPI document (FastStream's generator) is current: it names every durable consumer the running
service declares on JetStream with its subject, every event and command type with its payload schema,
and equals the committed docs/asyncapi.json; the rendered page loads only what the service serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_end_to_end import pipeline

from contracts import subjects
from contracts.commands import COMMAND_SPECS
from contracts.events import EVENT_SPECS
from sandbox.scenarios import demo_rules

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


async def test_the_served_asyncapi_names_every_consumer_the_service_runs_and_every_message(
        infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        resp = await svc.client.get("/asyncapi.json")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
        doc = resp.json()
        js = svc.services.nc.jetstream()
        running = []
        for stream in (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM):
            for info in await js.consumers_info(stream):
                filters = info.config.filter_subjects or [info.config.filter_subject]
                running += [(info.name, stream, f) for f in filters]
        assert len(running) >= 7, running

    assert doc["asyncapi"] == "3.0.0"
    channels = doc["channels"]
    receiving = {channels[op["channel"]["$ref"].rsplit("/", 1)[1]]["address"]
                 for op in doc["operations"].values() if op["action"] == "receive"}
    for durable, stream, subject in running:
        described = [c for c in channels.values() if c["address"] == subject and f"`{durable}`" in c.get("description", "")]
        assert described, f"consumer {durable} of {stream} on {subject} is not in /asyncapi.json"
        assert subject in receiving
    schemas = doc["components"]["schemas"]
    for event_type, spec in EVENT_SPECS.items():
        channel = channels[f"event {event_type}"]
        assert channel["address"].endswith(f".{event_type}.{{key}}") and channel["address"].startswith("ev.")
        envelope = schemas[f"{event_type}Event"]
        assert envelope["properties"]["payload"]["$ref"].endswith(f"/{spec.model.__name__}")
        assert set(spec.model.model_fields) <= set(schemas[spec.model.__name__]["properties"])
    for command_type, cspec in COMMAND_SPECS.items():
        assert channels[f"command {command_type}"]["address"] == f"cmd.{cspec.target}.{cspec.verb}.{{key}}"
    assert doc == json.loads(COMMITTED.read_text()), "regenerate: python -m runtime.asyncapi > docs/asyncapi.json"


async def test_the_rendered_asyncapi_page_loads_only_assets_the_service_serves(infra, sandbox_ashby, sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, roles=["projectors"]) as svc:
        page = await svc.client.get("/asyncapi")
        assert page.status_code == 200 and "AsyncApiStandalone.render" in page.text
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls and all(u.startswith("/") or u.startswith("data:") for u in urls), urls
        for url in urls:
            if url.startswith("/"):
                assert (await svc.client.get(url)).status_code == 200, url

"""/metrics on real NATS + Postgres with sandbox Ashby and Slack: a webhook → decision → command moves
the counters of every role in one process; a worker role run alone serves its own /metrics on
METRICS_PORT; `autoadvance http` with two workers reports both in one scrape; the Grafana dashboard
uses only metrics the service exports."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from test_end_to_end import _async, consumers_idle, interview, pipeline

from runtime.embedded import free_port
from sandbox.scenarios import demo_rules, stage
from support import eventually, running_service, schedule_payload

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


def total(scrape: dict, name: str, **labels: str) -> float:
    """Summed over the label values not given."""
    return sum(v for (n, ls), v in scrape.items() if n == name and set(labels.items()) <= ls)


async def scrape(client: httpx.AsyncClient) -> dict:
    resp = await client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain"), resp.text[:200]
    return samples(resp.text)


async def test_a_webhook_to_decision_to_command_moves_the_counters_of_every_role(infra, sandbox_ashby,
                                                                                  sandbox_slack):
    async with pipeline(infra, sandbox_ashby, sandbox_slack, rules=demo_rules()) as svc:
        before = await scrape(svc.client)
        interview(sandbox_ashby, "strong", {"ivan": 4, "iris": 3})
        interview(sandbox_ashby, "weak", {"ivan": 4, "iris": 2})
        await eventually(lambda: _async(sandbox_ashby.stage("strong")["id"] == stage("onsite")), timeout=30,
                         message="the strong candidate was not advanced")
        await eventually(lambda: _async(len(sandbox_slack.messages) == 1), timeout=30, message="no Slack proposal")
        await eventually(lambda: consumers_idle(svc), timeout=30, message="the pipeline did not settle")
        after = await scrape(svc.client)

        def moved(name: str, **labels: str) -> float:
            return total(after, name, **labels) - total(before, name, **labels)

        assert moved("autoadvance_webhooks_total", outcome="stored") >= 2
        assert moved("autoadvance_events_published_total", type="InterviewScheduleUpdated") >= 2
        assert moved("autoadvance_events_published_total", type="DecisionMade") >= 2
        assert moved("autoadvance_decisions_total", outcome="advance", mode="live") >= 1
        assert moved("autoadvance_decisions_total", outcome="propose_rejection", mode="live") >= 1
        assert moved("autoadvance_commands_total", type="AdvanceApplication", outcome="issued") >= 1
        assert moved("autoadvance_commands_total", type="AdvanceApplication", outcome="succeeded") >= 1
        assert moved("autoadvance_commands_total", type="ProposeRejection", outcome="issued") >= 1
        assert moved("autoadvance_ashby_requests_total", endpoint="application.changeStage", outcome="ok") >= 1
        assert moved("autoadvance_ashby_requests_total", endpoint="application.info", outcome="ok") >= 1
        assert moved("autoadvance_slack_requests_total", method="chat.postMessage", outcome="ok") >= 1
        assert moved("autoadvance_http_request_duration_seconds_count", route="/webhooks/ashby", status="200") >= 2
        assert moved("autoadvance_ashby_request_duration_seconds_count", endpoint="application.changeStage") >= 1
        assert moved("autoadvance_slack_request_duration_seconds_count", method="chat.postMessage") >= 1
        durables = {dict(ls)["durable"] for (n, ls) in after if n == "autoadvance_consumer_pending"}
        assert {"projectors-all-v1", "executor-ashby-v1", "notifier-slack-v1"} <= durables, durables
        assert value(after, "autoadvance_consumer_pending", durable="executor-ashby-v1") == 0
        assert value(after, "autoadvance_effects_paused") == 0
        await svc.client.post("/api/pause", json={"reason": "metrics"})
        assert value(await scrape(svc.client), "autoadvance_effects_paused") == 1
        bad = await svc.post_webhook({"action": "ping"}, signature="sha256=00")
        assert bad.status_code == 401
        twice = schedule_payload("app-metrics", webhook_action_id="wa-metrics")
        assert [(await svc.post_webhook(twice)).json()["status"] for _ in range(2)] == ["stored", "duplicate"]
        last = await scrape(svc.client)
        for outcome, count in (("bad_signature", 1), ("duplicate", 1)):
            assert total(last, "autoadvance_webhooks_total", outcome=outcome) \
                - total(after, "autoadvance_webhooks_total", outcome=outcome) == count, outcome


def dashboard_metrics() -> set[str]:
    doc = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    return {m for e in exprs for m in re.findall(r"\bautoadvance_[a-z_]+", e)}


async def test_every_metric_the_grafana_dashboard_queries_is_exported(infra):
    async with running_service(infra, roles=["projectors"]) as svc:
        text = (await svc.client.get("/metrics")).text
    exported = set()
    for family in text_string_to_metric_families(text):
        exported.add(family.name)
        if family.type == "counter":
            exported.add(family.name + "_total")
        if family.type == "histogram":
            exported |= {family.name + suffix for suffix in ("_bucket", "_count", "_sum")}
    wanted = dashboard_metrics()
    for family in ("webhooks_total", "events_published_total", "consumer_pending", "decisions_total",
                   "commands_total", "ashby_requests_total", "slack_requests_total",
                   "http_request_duration_seconds_bucket", "ashby_request_duration_seconds_bucket",
                   "slack_request_duration_seconds_bucket"):
        assert f"autoadvance_{family}" in wanted, f"the dashboard does not show autoadvance_{family}"
    assert wanted <= exported, f"queried but not exported: {sorted(wanted - exported)}"


async def _get(url: str) -> str | None:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            resp = await client.get(url)
    except httpx.HTTPError:
        return None
    return resp.text if resp.status_code == 200 else None


async def test_a_worker_role_in_its_own_process_serves_its_own_metrics_port(infra, tmp_path):
    port = free_port()
    env = {**os.environ, **infra.env(), "METRICS_PORT": str(port), "HTTP_HOST": "127.0.0.1", "LOG_FORMAT": "json"}
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "worker", "projectors"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/metrics"

        async def with_projectors() -> str | None:
            text = await _get(url)
            return text if text and 'autoadvance_consumer_pending{durable="projectors-all-v1"}' in text else None

        text = await eventually(with_projectors, timeout=60, message="the worker's /metrics did not answer")
        assert "# TYPE autoadvance_events_published_total counter" in text
        async with httpx.AsyncClient(timeout=3) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/other")).status_code == 404
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_two_http_workers_are_counted_together_in_every_scrape(infra, tmp_path):
    port = free_port()
    env = {**os.environ, **infra.env(), "HTTP_PORT": str(port), "HTTP_HOST": "127.0.0.1", "HTTP_WORKERS": "2",
           "LOG_FORMAT": "json"}
    with open(tmp_path / "http.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "http"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        await eventually(lambda: _get(f"{url}/health"), timeout=60, message="the workers did not answer")
        for _ in range(10):  # a fresh connection each: the kernel spreads them over both workers
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                resp = await client.post("/webhooks/ashby", content=b"{}", headers={"Ashby-Signature": "sha256=00"})
                assert resp.status_code == 401
        for _ in range(6):  # whichever worker answers, it reports both
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                scrape_ = samples((await client.get("/metrics")).text)
            assert total(scrape_, "autoadvance_webhooks_total", outcome="bad_signature") == 10
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

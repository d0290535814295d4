"""`autoadvance demo`: against a running `make run` (sandbox Ashby and Slack), load a job with two
candidates, let the pipeline decide, click "Archive" as the recruiter, and show what happened."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from runtime.admin_api import admin_token
from runtime.devsandbox import read_sandbox_file
from runtime.settings import Settings
from sandbox.ashby import sandbox_id
from sandbox.scenarios import RECRUITER_EMAIL, base_scenario, demo_rules, technical_schedule

RECRUITER_SLACK_ID = "U0RITA"
CANDIDATES = (("strong", "Sam Strong", {"ivan": 4, "iris": 3}), ("weak", "Wes Weak", {"ivan": 3, "iris": 1}))


class DemoError(Exception):
    pass


def _advanced(stage: dict[str, Any]) -> bool:
    return stage["title"] != "Technical Interview" and stage["type"] != "Archived"


def _archived(stage: dict[str, Any]) -> bool:
    return stage["type"] == "Archived"


@dataclass
class Candidate:
    key: str
    name: str
    scores: dict[str, int]
    application_id: str = ""
    outcome: str = "pending"
    stage: str | None = None
    decision: dict[str, Any] | None = None
    steps: list[str] = field(default_factory=list)


class Demo:
    def __init__(self, settings: Settings, *, timeout: float, say) -> None:
        info = read_sandbox_file(settings.data_dir)
        if not info or "ashby" not in info or "slack" not in info:
            raise DemoError(f"no sandbox found under {settings.data_dir.resolve()}: start the service with "
                            "`make run` (without ASHBY_API_KEY / SLACK_BOT_TOKEN) and run the demo next to it")
        self.http, self.ashby, self.slack = info["http"], info["ashby"], info["slack"]
        token, self.token_source = admin_token(settings)
        if token is None:
            raise DemoError(f"no admin token for the service at {self.http}: set ADMIN_API_TOKEN to the token it was "
                            f"started with (or run the demo next to that service's DATA_DIR/admin_token)")
        self.api = httpx.AsyncClient(base_url=self.http, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                                     trust_env=False, event_hooks={"response": [self._refused]})
        self.plain = httpx.AsyncClient(timeout=10, trust_env=False)
        self.deadline = time.monotonic() + timeout
        self.archive_delay = float(info.get("archive_delay_s", settings.archive_delay))  # the service's window
        self.say = say
        self.run = uuid.uuid4().hex[:6]
        self.candidates = [Candidate(f"{key}-{self.run}", name, scores) for key, name, scores in CANDIDATES]

    async def _refused(self, resp: httpx.Response) -> None:
        """Any 401 from the service: the token is not the one it was started with (never shown)."""
        if resp.status_code == 401:
            raise DemoError(f"the running service at {self.http} refused the admin token read from "
                            f"{self.token_source}; it needs the token it was started with (ADMIN_API_TOKEN, "
                            "or that service's DATA_DIR/admin_token)")

    async def close(self) -> None:
        await self.api.aclose()
        await self.plain.aclose()

    async def _sandbox(self, base: str, method: str, path: str, doc: Any = None) -> dict[str, Any]:
        resp = await self.plain.request(method, f"{base}/_sandbox/{path}", json=doc)
        body = resp.json()
        if resp.status_code != 200 or body.get("ok") is False:
            raise DemoError(f"sandbox {path}: {body.get('error') or resp.status_code}")
        return body

    async def _until(self, what: str, probe) -> Any:
        while time.monotonic() < self.deadline:
            found = await probe()
            if found:
                return found
            await asyncio.sleep(0.2)
        raise TimeoutError(what)

    async def run_all(self) -> list[Candidate]:
        health = await self.api.get("/health")
        if health.status_code != 200:
            raise DemoError(f"the service at {self.http} is not healthy: {health.text[:200]}")
        await self.api.get("/api/rulesets")  # the token is checked before anything is loaded
        await self._load()
        for c in self.candidates:
            await self._interview(c)
        strong, weak = self.candidates
        try:
            await self._until("the strong candidate to be advanced", lambda: self._at(strong, _advanced))
            strong.outcome = "advanced"
            self.say(f"✓ {strong.name}: every interviewer cleared the bar → advanced to {strong.stage}")
            message = await self._until("the Slack proposal for the weak candidate", lambda: self._proposal(weak))
            self.say(f"✓ {weak.name}: below the bar → rejection proposed to the recruiter in Slack "
                     f"(channel {message['channel']})")
            await self._sandbox(self.slack, "POST", "click", {
                "target_url": f"{self.http}/slack/interactions", "ts": message["ts"], "action": "archive",
                "user_id": RECRUITER_SLACK_ID})
            self.say("✓ the recruiter clicked \"Archive\" in Slack")
            if self.archive_delay > 0:  # the undo window: nothing reaches Ashby before it ends
                self.say(f"… the archive waits {self.archive_delay:g} s (ARCHIVE_DELAY, the undo window) before it "
                         "is sent to Ashby; Undo in Slack would cancel it")
                self.deadline += self.archive_delay
            await self._until("the weak candidate to be archived", lambda: self._at(weak, _archived))
            weak.outcome = "archived"
            self.say(f"✓ {weak.name}: archived in Ashby with reason \"Not a fit for the role\"")
        except TimeoutError as exc:
            self.say(f"✗ timed out waiting for {exc}")
        for c in self.candidates:
            decisions = (await self.api.get("/api/decisions", params={"application_id": c.application_id})).json()
            c.decision = decisions[0] if isinstance(decisions, list) and decisions else None
        return self.candidates

    async def _load(self) -> None:
        apps = [{"key": c.key, "candidate": c.name, "job": "backend", "stage": "technical"} for c in self.candidates]
        ids = (await self._sandbox(self.ashby, "POST", "scenario", base_scenario(apps)))["ids"]
        for c in self.candidates:
            c.application_id = ids["applications"][c.key]
        await self._sandbox(self.slack, "POST", "users", {"id": RECRUITER_SLACK_ID, "email": RECRUITER_EMAIL,
                                                          "name": "Rita Recruiter"})
        self.say("✓ loaded into the sandbox Ashby: job \"Backend Engineer\", plan \"Engineering\", "
                 f"candidates {', '.join(c.name for c in self.candidates)} in \"Technical Interview\"")
        current = (await self.api.get("/api/rulesets")).json()
        wanted = demo_rules()
        active = next((r for r in current.get("rulesets", []) if r.get("version") == current.get("active_version")),
                      None)
        if not active or (active.get("rule_set") or active.get("document") or {}).get("name") != wanted["name"]:
            resp = await self.api.post("/api/rulesets", json=wanted)
            if resp.status_code != 201:
                raise DemoError(f"activating the demo rule set failed: {resp.text[:300]}")
            self.say(f"✓ activated rule set v{resp.json()['version']} \"{wanted['name']}\": both technical "
                     "interviewers must score 3+; pass → next stage, fail → ask the recruiter")

    async def _interview(self, c: Candidate) -> None:
        schedule = technical_schedule(f"s-{c.key}", c.application_id, "Scheduled")
        await self._sandbox(self.ashby, "POST", "schedules", schedule)
        for user, score in c.scores.items():
            await self._sandbox(self.ashby, "POST", "feedback", {
                "key": f"{c.key}-{user}", "application": c.application_id, "interview": "technical", "user": user,
                "values": {"overall_recommendation": score}})
        await self._sandbox(self.ashby, "POST", f"schedules/{sandbox_id('schedule', schedule['key'])}/status",
                            {"status": "WaitingOnFeedback"})
        self.say(f"✓ {c.name}: interview held, feedback {c.scores} submitted, schedule → WaitingOnFeedback")

    async def _at(self, c: Candidate, where) -> bool:
        """Whether the candidate's current stage in the sandbox Ashby satisfies `where` (noted in `c`)."""
        app = (await self._sandbox(self.ashby, "GET", f"applications/{c.application_id}"))["application"]
        stage = app["currentInterviewStage"]
        c.stage = stage["title"]
        return where(stage)

    async def _proposal(self, c: Candidate) -> dict[str, Any] | None:
        listed = await self._sandbox(self.slack, "GET", "messages")
        return next((m for m in listed["messages"] if c.application_id in orjson.dumps(m).decode()), None)

    def summary(self) -> dict[str, Any]:
        return {
            "ok": all(c.outcome != "pending" for c in self.candidates),
            "service": self.http,
            "candidates": [{
                "name": c.name, "application_id": c.application_id, "outcome": c.outcome, "stage": c.stage,
                "decision": (c.decision or {}).get("outcome"),
                "audit_trail": f"{self.http}/api/events?key={c.application_id}",
                "application": f"{self.http}/api/applications/{c.application_id}",
            } for c in self.candidates],
            "decisions": f"{self.http}/api/decisions",
            "slack_messages": f"{self.slack}/_sandbox/messages",
            "ashby_calls": f"{self.ashby}/_sandbox/calls",
        }


async def run_demo(settings: Settings, *, as_json: bool, timeout: float) -> int:
    def say(line: str) -> None:
        if not as_json:
            print(line, flush=True)

    try:
        demo = Demo(settings, timeout=timeout, say=say)
    except DemoError as exc:
        print(f"autoadvance demo: {exc}", file=sys.stderr)
        return 2
    try:
        await demo.run_all()
        summary = demo.summary()
    except (DemoError, httpx.HTTPError) as exc:
        print(f"autoadvance demo: {exc}", file=sys.stderr)
        return 2
    finally:
        await demo.close()
    if as_json:
        print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    else:
        print("\nWhere to look (Authorization: Bearer <ADMIN_API_TOKEN>, stored in DATA_DIR/admin_token):")
        for c in summary["candidates"]:
            print(f"  {c['name']:<11} {c['outcome']:<9} audit trail: {c['audit_trail']}")
        print(f"  decisions and their explanations: {summary['decisions']}")
        print(f"  what Slack received: {summary['slack_messages']}\n  what Ashby received: {summary['ashby_calls']}")
    return 0 if summary["ok"] else 1

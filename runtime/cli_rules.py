"""`autoadvance rules validate|activate|show`.

`validate` checks the document offline, then asks the running service, when it is reachable, for
the warnings only the synced interview plans can give (`POST /api/rulesets/validate`: a rule on a
plan's last stage without `target_stage_id`); `--offline` skips that. `activate` and `show` talk
to the running service's operator API (`POST`/`GET /api/rulesets`), so there is one activation path
(validation, immutable version, `RuleSetActivated` event) whether a rule set comes from the CLI or
over HTTP, and the CLI works next to `make run`, whose embedded servers belong to that process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from evaluator.rules import RuleSetInvalid, parse_document, validate_document
from evaluator.rules_text import MAX_BYTES
from runtime.admin_api import admin_client, service_url
from runtime.settings import Settings

MAX_SHOWN = 50


def register(sub: argparse._SubParsersAction) -> None:
    rules = sub.add_parser("rules", help="validate, activate or show rule sets")
    verbs = rules.add_subparsers(dest="rules_command", required=True)
    validate = verbs.add_parser("validate", help="check a YAML/JSON rule set; every problem with its location")
    validate.add_argument("file", type=Path)
    validate.add_argument("--offline", action="store_true", help="do not ask the service about the interview plans")
    activate = verbs.add_parser("activate", help="validate, then activate as a new immutable version")
    activate.add_argument("file", type=Path)
    show = verbs.add_parser("show", help="the active rule set")
    show.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    for parser in (validate, activate, show):
        parser.add_argument("--url", help="the service (default http://HTTP_HOST:HTTP_PORT)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = service_url(settings, args.url)
    if args.rules_command == "validate":
        doc = _load(args.file)
        if doc is None:
            return 1
        if not args.offline:
            _plan_check(settings, url, doc)
        return 0
    try:
        with admin_client(settings, url) as api:
            if args.rules_command == "activate":
                return _activate(api, args.file)
            return _show(api, args.json)
    except httpx.HTTPError as exc:
        print(f"cannot reach the service at {url} ({type(exc).__name__}); is it running (make run)? "
              "Pass --url for another one.", file=sys.stderr)
        return 2


def _load(path: Path) -> Any | None:
    """The parsed document, or None after printing every problem."""
    try:
        with path.open("rb") as file:  # no more than the limit is read: a rule file is small
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return None
    try:
        doc = parse_document(data, fmt="json" if path.suffix.lower() == ".json" else "yaml")
    except RuleSetInvalid as exc:
        print(f"{path}: {'; '.join(p.message for p in exc.problems)}", file=sys.stderr)
        return None
    problems = validate_document(doc)
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems[:MAX_SHOWN]:
            print(f"  {p.location}: {p.message}", file=sys.stderr)
        if len(problems) > MAX_SHOWN:
            print(f"  … and {len(problems) - MAX_SHOWN} more", file=sys.stderr)
        return None
    print(f"{path}: valid ({len(doc.get('rules') or [])} rules)")
    return doc


def _print_warnings(warnings: list[dict[str, Any]]) -> None:
    if warnings:
        print(f"{len(warnings)} warning(s) from the synced interview plans:", file=sys.stderr)
    for w in warnings[:MAX_SHOWN]:
        print(f"  warning: {w['location']}: {w['message']}", file=sys.stderr)


def _plan_check(settings: Settings, url: str, doc: Any) -> None:
    """The service's warnings about a valid document; a note, not a failure, when it cannot answer."""
    try:
        with admin_client(settings, url) as api:
            resp = api.post("/api/rulesets/validate", content=orjson.dumps(doc),
                            headers={"Content-Type": "application/json"}, timeout=5)
    except httpx.HTTPError as exc:
        print(f"note: the interview plans were not checked: the service at {url} is not reachable "
              f"({type(exc).__name__}); pass --url, or --offline to skip this", file=sys.stderr)
        return
    if resp.status_code != 200:
        print(f"note: the interview plans were not checked: {url} answered HTTP {resp.status_code}"
              f"{' (set ADMIN_API_TOKEN)' if resp.status_code == 401 else ''}", file=sys.stderr)
        return
    _print_warnings(resp.json().get("warnings") or [])


def _activate(api: httpx.Client, path: Path) -> int:
    doc = _load(path)
    if doc is None:
        return 1
    resp = api.post("/api/rulesets", content=orjson.dumps(doc), headers={"Content-Type": "application/json"})
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code == 201:
        print(f"activated rule set version {body['version']} (event {body['event_id']})")
        _print_warnings(body.get("warnings") or [])
        return 0
    print(f"activation refused (HTTP {resp.status_code}): {body.get('detail') or resp.text[:300]}", file=sys.stderr)
    for p in (body.get("extra") or {}).get("problems") or []:
        print(f"  {p['location']}: {p['message']}", file=sys.stderr)
    return 1


def _show(api: httpx.Client, as_json: bool) -> int:
    resp = api.get("/api/rulesets")
    if resp.status_code != 200:
        print(f"GET /api/rulesets failed (HTTP {resp.status_code}): {resp.text[:300]}", file=sys.stderr)
        return 1
    body = resp.json()
    active = next((r for r in body["rulesets"] if r["version"] == body["active_version"]), None)
    if as_json:
        print(orjson.dumps(active, option=orjson.OPT_INDENT_2).decode() if active else "null")
        return 0
    if active is None:
        print("no rule set is active: nothing is decided until one is activated")
        return 0
    doc = active["document"]
    print(f"rule set version {active['version']} \"{doc.get('name', '')}\", activated {active['activated_at']}"
          f"{' (dry run)' if doc.get('dry_run') else ''}")
    for rule in doc.get("rules") or []:
        where = f"plan {rule.get('interview_plan_id')} stage {rule.get('stage_id')}"
        if rule.get("job_id"):
            where += f" job {rule['job_id']}"
        reqs = "; ".join(f"{r.get('field')} {r.get('operator')} {r.get('threshold')!r}"
                         for r in rule.get("requirements") or [])
        print(f"  {rule.get('id')}: {where} [{rule.get('mode', 'live')}] — {reqs} → "
              f"pass: {(rule.get('on_pass') or {}).get('action')}, fail: {(rule.get('on_fail') or {}).get('action')}")
    return 0

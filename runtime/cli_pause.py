"""`autoadvance pause|resume [--reason WHY]` and `autoadvance pause --status`: the pause switch through the
running service's operator API (`/api/pause`, `/api/resume`), the same path the console takes."""

from __future__ import annotations

import argparse
import getpass
import sys

import httpx
import orjson

from runtime.admin_api import admin_client, service_url
from runtime.settings import Settings

COMMANDS = ("pause", "resume")


def register(sub: argparse._SubParsersAction) -> None:
    pause = sub.add_parser("pause", help="stop every effect (no Ashby write, no Slack message); decisions go on")
    pause.add_argument("--status", action="store_true", help="only show whether effects are paused")
    resume = sub.add_parser("resume", help="let effects run again: the commands that waited run once each")
    for parser in (pause, resume):
        parser.add_argument("--reason", default="", help="why (recorded in the event log)")
        parser.add_argument("--by", default=None, help="who (recorded; default cli (<your user name>))")
        parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")
        parser.add_argument("--url", help="the service (default http://HTTP_HOST:HTTP_PORT)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = service_url(settings, args.url)
    try:
        with admin_client(settings, url) as api:
            if args.command == "pause" and args.status:
                resp = api.get("/api/pause")
            else:
                by = args.by or f"cli ({_user()})"
                resp = api.post(f"/api/{args.command}", json={"reason": args.reason, "by": by})
    except httpx.HTTPError as exc:
        print(f"cannot reach the service at {url} ({type(exc).__name__}); is it running (make run)? "
              "Pass --url for another one.", file=sys.stderr)
        return 2
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        print(f"{args.command} failed (HTTP {resp.status_code}): {body.get('detail') or resp.text[:300]}",
              file=sys.stderr)
        return 1
    if args.json:
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(describe(body))
    return 0


def describe(state: dict) -> str:
    if state.get("paused"):
        text = f"effects are PAUSED since {state.get('since')} by {state.get('by')}"
        text += f" ({state['reason']})" if state.get("reason") else ""
        text += ": no Ashby write, no Slack message; decisions are still recorded and their commands wait"
    else:
        text = "effects are running" + (f" (resumed {state.get('since')} by {state.get('by')})"
                                         if state.get("since") else "")
    if state.get("changed") is False:
        text += " (it already was; nothing recorded)"
    return text


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "unknown"

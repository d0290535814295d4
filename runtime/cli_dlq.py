"""`autoadvance dlq list|show|retry`: the dead-letter queue, through the running service's operator
API (`/api/dlq`), so it works next to `make run` and needs no `nats` CLI."""

from __future__ import annotations

import argparse
import sys

import httpx
import orjson

from runtime.admin_api import admin_client, service_url
from runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    dlq = sub.add_parser("dlq", help="list, show or retry dead-lettered messages")
    verbs = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = verbs.add_parser("list", help="dead letters not retried yet (--all: every one)")
    listing.add_argument("--all", action="store_true", help="include the ones already retried")
    listing.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    show = verbs.add_parser("show", help="one dead letter: reason, headers and body")
    show.add_argument("seq", type=int, help="its DLQ sequence (from `dlq list` or the admin alert)")
    retry = verbs.add_parser("retry", help="re-send a dead letter to its original subject (after fixing the cause)")
    retry.add_argument("seq", type=int, nargs="+", help="DLQ sequence(s)")
    for parser in (listing, show, retry):
        parser.add_argument("--url", help="the service (default http://HTTP_HOST:HTTP_PORT)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = service_url(settings, args.url)
    try:
        with admin_client(settings, url) as api:
            if args.dlq_command == "list":
                return _list(api, include_all=args.all, as_json=args.json)
            if args.dlq_command == "show":
                return _show(api, args.seq)
            return max(_retry(api, seq) for seq in args.seq)
    except httpx.HTTPError as exc:
        print(f"cannot reach the service at {url} ({type(exc).__name__}); is it running (make run)? "
              "Pass --url for another one.", file=sys.stderr)
        return 2


def _failed(resp: httpx.Response, what: str) -> int:
    try:
        reason = resp.json().get("detail") or resp.text[:300]
    except ValueError:
        reason = resp.text[:300]
    print(f"{what} failed (HTTP {resp.status_code}): {reason}", file=sys.stderr)
    return 1


def _list(api: httpx.Client, *, include_all: bool, as_json: bool) -> int:
    resp = api.get("/api/dlq", params={"all": str(include_all).lower(), "limit": 1000})
    if resp.status_code != 200:
        return _failed(resp, "GET /api/dlq")
    body = resp.json()
    if as_json:
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return 0
    items = body["dead_letters"]
    print(f"{body['open']} open dead letter(s)" + (f"; {len(items)} listed" if include_all else ""))
    for d in items:
        state = f"retried {d['retried_at']}" if d["retried_at"] else "open"
        print(f"  #{d['dlq_seq']}  {d['dead_lettered_at'] or '?'}  {d['consumer']}  {d['subject']}  "
              f"{d['event_type'] or '(unreadable)'}  [{state}]")
        print(f"      {d['reason'][:200]}")
    return 0


def _show(api: httpx.Client, seq: int) -> int:
    resp = api.get(f"/api/dlq/{seq}")
    if resp.status_code != 200:
        return _failed(resp, f"GET /api/dlq/{seq}")
    print(orjson.dumps(resp.json(), option=orjson.OPT_INDENT_2).decode())
    return 0


def _retry(api: httpx.Client, seq: int) -> int:
    resp = api.post(f"/api/dlq/{seq}/retry")
    if resp.status_code != 202:
        return _failed(resp, f"retry of DLQ #{seq}")
    print(f"DLQ #{seq} re-sent to its subject (stream sequence {resp.json()['republished_seq']})")
    return 0

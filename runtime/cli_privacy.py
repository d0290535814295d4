"""`autoadvance erase --candidate ID` (through the running service's operator API, like `rules` and
`dlq`) and `autoadvance audit export|verify` (export reads Postgres like `replay`; verify reads a file)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import httpx

from audit.chain import Chain, verify
from runtime.admin_api import admin_client, service_url
from runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    erase = sub.add_parser("erase", help="erase a candidate's personal data everywhere (their key is destroyed)")
    erase.add_argument("--candidate", required=True, help="the Ashby candidate id")
    erase.add_argument("--by", default="admin", help="who asked (recorded in the CandidateErased event)")
    erase.add_argument("--url", help="the service (default http://HTTP_HOST:HTTP_PORT)")
    audit = sub.add_parser("audit", help="export the decisions and effects as a hash-chained file, or verify one")
    verbs = audit.add_subparsers(dest="audit_command", required=True)
    export = verbs.add_parser("export", help="JSON Lines of every decision and effect, each chained to the last")
    export.add_argument("--since", type=_when, help="recorded at or after (ISO date or time, UTC if no zone)")
    export.add_argument("--until", type=_when, help="recorded before (ISO date or time)")
    export.add_argument("--out", help="file to write (default: standard output)")
    check = verbs.add_parser("verify", help="check an export: exit 0 if unbroken, 1 naming the first bad line")
    check.add_argument("file")


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run_erase(args: argparse.Namespace, settings: Settings) -> int:
    url = service_url(settings, args.url)
    try:
        with admin_client(settings, url) as api:
            resp = api.post(f"/api/candidates/{args.candidate}/erase", params={"by": args.by})
    except httpx.HTTPError as exc:
        print(f"cannot reach the service at {url} ({type(exc).__name__}); is it running (make run)? "
              "Pass --url for another one.", file=sys.stderr)
        return 2
    if resp.status_code != 200:
        try:
            reason = resp.json().get("detail") or resp.text[:300]
        except ValueError:
            reason = resp.text[:300]
        print(f"erasure failed (HTTP {resp.status_code}): {reason}", file=sys.stderr)
        return 1
    body = resp.json()
    state = "erased" if body["newly_erased"] else "was already erased"
    print(f"candidate {body['candidate_id']} {state} at {body['erased_at']}; event {body['event_id']} "
          f"(stream sequence {body['stream_seq']})")
    return 0


def run_audit(args: argparse.Namespace, settings: Settings) -> int:
    if args.audit_command == "export":
        import asyncio

        return asyncio.run(export(settings, args.since, args.until, args.out))
    try:
        with open(args.file, "rb") as handle:
            verdict = verify(handle)
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    if verdict.ok:
        print(f"{args.file}: OK, {verdict.records} records, chain unbroken")
        return 0
    print(f"{args.file}: line {verdict.bad_line}: {verdict.reason}", file=sys.stderr)
    return 1


async def export(settings: Settings, since: datetime | None, until: datetime | None, out: str | None) -> int:
    from audit.export import records
    from runtime.cli_replay import database

    end = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None,
           "exported_at": datetime.now(UTC).isoformat()}
    lines = Chain()
    # a CLI writing its one output file: blocking writes are what it does
    handle = open(out, "wb") if out else sys.stdout.buffer  # noqa: ASYNC230
    try:
        async with database(settings) as (pool, _):
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                async for record in records(conn, since, until):
                    handle.write(lines.line(record) + b"\n")
        handle.write(lines.end(end) + b"\n")
    finally:
        if out:
            handle.close()
        else:
            handle.flush()
    if out:
        print(f"{lines.n - 1} records written to {out}", file=sys.stderr)
    return 0

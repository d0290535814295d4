"""`autoadvance demographics import|list|delete`, `autoadvance report impact|oversight` and
`autoadvance explain`: clients of a running service's `/api/demographics/…`, `/api/reports/…` and
`/api/applications/{id}/explanation`, so categories are
parsed, stored and erased in one place whether they come from the CLI or over HTTP. Categories
are never printed; the explanation is printed for the operator to hand to the candidate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import orjson

from compliance.demographics import MAX_BYTES
from compliance.explanation import Explanation, to_text
from compliance.impact import ImpactReport
from compliance.impact import to_lines as impact_lines
from compliance.oversight import OversightReport
from compliance.oversight import to_lines as oversight_lines
from runtime.admin_api import admin_client, service_url
from runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demographics", help="import or erase the categories impact reports count by")
    verbs = demo.add_subparsers(dest="demographics_command", required=True)
    imp = verbs.add_parser("import", help="a CSV: candidate_id plus one column per category (docs/compliance.md)")
    imp.add_argument("file", type=Path)
    verbs.add_parser("list", help="imports: id, columns, candidates still held")
    erase = verbs.add_parser("delete", help="erase one candidate's categories, or a whole import's")
    which = erase.add_mutually_exclusive_group(required=True)
    which.add_argument("--candidate", metavar="ID")
    which.add_argument("--import", dest="import_id", metavar="IMPORT_ID")
    explain = sub.add_parser("explain", help="every automated decision about an application, for the candidate")
    explain.add_argument("application_id")
    explain.add_argument("--format", choices=("text", "json", "html"), default="text")
    report = sub.add_parser("report", help="impact ratios or human-oversight numbers (docs/compliance.md)")
    kinds = report.add_subparsers(dest="report_command", required=True)
    impact = kinds.add_parser("impact", help="selection rates and impact ratios of recorded decisions")
    impact.add_argument("--stage", help="one stage id")
    impact.add_argument("--by", help="dimensions, e.g. sex,race_ethnicity,sex*race_ethnicity (default: each "
                                     "category and every pair)")
    oversight = kinds.add_parser("oversight", help="proposals confirmed, kept, unanswered; median answer time")
    for parser in (impact, oversight):
        parser.add_argument("--since", help="a date or ISO date-time (UTC unless given)")
        parser.add_argument("--until")
        parser.add_argument("--format", choices=("text", "json", "csv"), default="text")
    for parser in (imp, verbs.choices["list"], erase, explain, impact, oversight):
        parser.add_argument("--url", help="the service (default http://HTTP_HOST:HTTP_PORT)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    url = service_url(settings, args.url)
    try:
        with admin_client(settings, url) as api:
            if args.command == "explain":
                return _explain(api, args.application_id, args.format)
            if args.command == "report":
                return _report(api, args)
            if args.demographics_command == "import":
                return _import(api, args.file)
            if args.demographics_command == "list":
                return _list(api)
            return _delete(api, args.candidate, args.import_id)
    except httpx.HTTPError as exc:
        print(f"cannot reach the service at {url} ({type(exc).__name__}); is it running (make run)? "
              "Pass --url for another one.", file=sys.stderr)
        return 2


def _refused(resp: httpx.Response, what: str) -> int:
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    print(f"{what} refused (HTTP {resp.status_code}): {body.get('detail') or resp.text[:300]}", file=sys.stderr)
    extra = body.get("extra") or {}
    for problem in extra.get("problems") or []:
        print(f"  {problem}", file=sys.stderr)
    if extra.get("problems_total", 0) > len(extra.get("problems") or []):
        print(f"  … {extra['problems_total']} problems in all", file=sys.stderr)
    return 1


def _import(api: httpx.Client, path: Path) -> int:
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    resp = api.post("/api/demographics/imports", content=data, headers={"Content-Type": "text/csv"})
    if resp.status_code != 201:
        return _refused(resp, f"{path}: import")
    body = resp.json()
    again = " (this file was imported before)" if body["already_imported"] else ""
    print(f"{path}: {body['rows']} candidates, columns {', '.join(body['columns'])}; {body['changed']} changed; "
          f"import {body['import_id']}{again}")
    return 0


def _list(api: httpx.Client) -> int:
    resp = api.get("/api/demographics/imports")
    if resp.status_code != 200:
        return _refused(resp, "listing imports")
    rows = resp.json()
    if not rows:
        print("no demographic categories are held")
    for r in rows:
        print(f"{r['import_id']}  {r['imported_at']}  {r['candidates']} candidates  columns {', '.join(r['columns'])}")
    return 0


def _delete(api: httpx.Client, candidate: str | None, import_id: str | None) -> int:
    path = (f"/api/demographics/candidates/{quote(candidate, safe='')}" if candidate is not None
            else f"/api/demographics/imports/{quote(str(import_id), safe='')}")
    resp = api.delete(path)
    if resp.status_code != 200:
        return _refused(resp, "erasure")
    body = resp.json()
    print("erased the candidate's categories" if candidate is not None
          else f"erased import {import_id}: {body['erased_candidates']} candidates")
    return 0


def _explain(api: httpx.Client, application_id: str, fmt: str) -> int:
    resp = api.get(f"/api/applications/{quote(application_id, safe='')}/explanation",
                   params={"format": "html" if fmt == "html" else "json"})
    if resp.status_code != 200:
        return _refused(resp, "explanation")
    if fmt == "html":
        sys.stdout.write(resp.text)
    elif fmt == "json":
        sys.stdout.write(orjson.dumps(resp.json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(to_text(Explanation.model_validate(resp.json())))
    return 0


def _report(api: httpx.Client, args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("since", args.since), ("until", args.until),
                                ("stage_id", getattr(args, "stage", None)), ("by", getattr(args, "by", None)))
              if v is not None}
    params["format"] = "csv" if args.format == "csv" else "json"
    resp = api.get(f"/api/reports/{args.report_command}", params=params)
    if resp.status_code != 200:
        return _refused(resp, f"the {args.report_command} report")
    if args.format == "csv":
        sys.stdout.write(resp.text)
    elif args.format == "json":
        sys.stdout.write(orjson.dumps(resp.json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif args.report_command == "impact":
        sys.stdout.write("\n".join(impact_lines(ImpactReport.model_validate(resp.json()))) + "\n")
    else:
        sys.stdout.write("\n".join(oversight_lines(OversightReport.model_validate(resp.json()))) + "\n")
    return 0

"""/ui/rules: the active rule set and its history, a semantic diff between any two versions, and
upload → validate (problems shown at their line and field) → confirm what changes → activate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import yaml
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile

from contracts.errors import TransientError
from evaluator import queries as decisions_q
from evaluator.http import EventSink, activate_document
from evaluator.rule_warnings import warnings_for
from evaluator.rules import parse_document, validate_document
from evaluator.rules_diff import diff_rule_sets, line_of
from projectors import queries as projectors_q
from runtime.console.auth import Access
from runtime.console.web import Pages, acting_admin

MAX_UPLOAD_BYTES = 1_048_576


def _yaml(doc: dict[str, Any]) -> str:
    # libyaml's emitter when PyYAML has it: the pure-Python one takes ~50 ms for a 25-rule set
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)


async def uploaded_text(request: Request) -> str:
    form = await request.form()
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValueError(f"the file is larger than {MAX_UPLOAD_BYTES} bytes")
        return data.decode("utf-8", errors="replace")
    return str(form.get("document") or "")


def _check(text: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the document when valid, each problem with its location and line in `text`)."""
    if not text.strip():
        return None, [{"location": "document", "message": "paste a rule set or choose a file", "line": None}]
    try:
        doc = parse_document(text, fmt="json" if text.lstrip()[:1] in ("{", "[") else "yaml")
    except ValueError as exc:
        return None, [{"location": "document", "message": str(exc), "line": line_of(text, "document")}]
    problems = validate_document(doc)
    if problems:
        return None, [{"location": p.location, "message": p.message, "line": line_of(text, p.location)}
                      for p in problems]
    return doc, []


def handlers(pool: asyncpg.Pool, sink: EventSink, pages: Pages, access: Access,
             signed_in: Callable[..., None]) -> list[Any]:
    async def _versions() -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await decisions_q.rule_set_versions(conn)

    async def _titles(document: dict[str, Any] | None) -> dict[str, str]:
        ids = [r.get("stage_id") for r in (document or {}).get("rules") or [] if isinstance(r, dict)]
        async with pool.acquire() as conn:
            return await projectors_q.stage_titles(conn, [i for i in ids if isinstance(i, str)])

    @get("/rules", summary="Rule sets: active, history, diff, upload", guards=[signed_in])
    async def rules(request: Request, a: int | None = None, b: int | None = None) -> Response:
        versions = await _versions()
        active = versions[0] if versions else None
        by_version = {v["version"]: v["document"] for v in versions}
        diff = None
        if a is not None and b is not None:
            if a not in by_version or b not in by_version:
                return pages.render(request, "refused.html", status_code=404, title="Not found",
                                    reason=f"rule-set version {a if a not in by_version else b} was never activated")
            diff = diff_rule_sets(by_version[a], by_version[b])
        context: dict[str, Any] = {"versions": versions, "active": active, "active_yaml": _yaml(active["document"]) if active else "",
                   "diff": diff, "a": a, "b": b, "stages": await _titles(active["document"] if active else None)}
        if diff is not None and request.headers.get("hx-request"):
            return pages.render(request, "_diff.html", **context)
        return pages.render(request, "rules.html", **context)

    @post("/rules/validate", summary="Validate an uploaded rule set; what activating it would change",
          guards=[signed_in], status_code=200)
    async def validate(request: Request) -> Response:
        try:
            text = await uploaded_text(request)
        except ValueError as exc:
            return pages.render(request, "_validation.html", status_code=400, text="", doc=None,
                                problems=[{"location": "file", "message": str(exc), "line": None}])
        doc, problems = _check(text)
        versions = await _versions()
        active = versions[0] if versions else None
        diff = diff_rule_sets(active["document"] if active else None, doc) if doc is not None else None
        warnings = [{**w, "line": line_of(text, w["location"])} for w in await warnings_for(pool, doc)] if doc else []
        return pages.render(request, "_validation.html", status_code=200 if doc is not None else 400, text=text,
                            lines=text.splitlines(), doc=doc, problems=problems, diff=diff, active=active,
                            warnings=warnings)

    @post("/rules/activate", summary="Activate a validated rule set (admin)", guards=[signed_in], status_code=201)
    async def activate(request: Request) -> Response:
        await acting_admin(request, access)
        text = str((await request.form()).get("document") or "")
        doc, problems = _check(text)
        if doc is None:
            return pages.render(request, "_validation.html", status_code=400, text=text, lines=text.splitlines(),
                                doc=None, problems=problems)
        try:
            version, event_id, _ = await activate_document(pool, sink, doc, activated_by="console")
        except TransientError:
            return pages.render(request, "_notice.html", status_code=503, level="error",
                                text="The event store is unavailable; nothing was activated. Try again shortly.")
        return pages.render(request, "_notice.html", status_code=201, level="ok",
                            text=f"Activated as version {version} (event {event_id}). The evaluator applies it "
                                 "as soon as it reads the event; reload to see it listed.")

    return [rules, validate, activate]

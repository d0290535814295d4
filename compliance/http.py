"""Compliance routes: demographic imports (admin), impact and oversight reports, and a candidate's
explanation (viewer and admin). Thin: parsing here, SQL in `compliance.store`, arithmetic and
words in the pure modules. Nothing here logs a category, a name or a value."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import asyncpg
import structlog
from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Parameter
from litestar.types import Guard
from pydantic import BaseModel, ConfigDict

from compliance import store
from compliance.candidates import CandidateName, candidate_name, no_name
from compliance.demographics import MAX_BYTES, ImportInvalid, parse_csv
from compliance.explanation import Explanation, explain, to_html
from compliance.impact import ImpactReport, parse_by, report, to_csv
from compliance.oversight import OversightReport, oversight
from compliance.oversight import to_csv as oversight_csv
from contracts.errors import ErrorBody, error_body

log = structlog.get_logger(__name__)
_PRINTABLE = r"^[^\x00\ud800-\udfff]*$"
Id = Annotated[str, Parameter(min_length=1, max_length=256, pattern=_PRINTABLE)]
MaybeText = Annotated[str | None, Parameter(min_length=1, max_length=256, pattern=_PRINTABLE)]
Moment = Annotated[str | None, Parameter(min_length=1, max_length=64, pattern=_PRINTABLE,
                                         description="a date (2026-01-31, midnight UTC) or an ISO date-time")]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImportResult(_Answer):
    import_id: str
    """The file's digest: the same file again is the same import."""
    rows: int
    columns: list[str]
    changed: int
    already_imported: bool


class ImportHeld(_Answer):
    import_id: str
    columns: list[str]
    imported_at: str
    candidates: int
    """Candidates whose categories still come from this import."""


class ImportErased(_Answer):
    import_id: str
    erased_candidates: int


class CandidateErased(_Answer):
    erased: bool


class BadRequest(ValueError):
    """A parameter that makes no report: 400 with this reason."""


def moment(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # not a moment, or none UTC can hold (year 1 minus an offset)
        raise BadRequest(f"{name}: not a date or ISO date-time (e.g. 2026-01-31 or 2026-01-31T09:00:00Z)") from None


def window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    start, end = moment("since", since), moment("until", until)
    if start is not None and end is not None and start > end:
        raise BadRequest("since is after until: nothing to report")
    return start, end


def _refused(body: dict[str, Any]) -> Response[Any]:
    return Response(body, status_code=body["status_code"])


def _bad(exc: ValueError) -> Response[Any]:
    return _refused(error_body(400, str(exc)))


def _text(content: str, media_type: str, headers: dict[str, str] | None = None) -> Response[Any]:
    """A CSV or HTML answer where the route's typed answer (what the OpenAPI shows) is JSON."""
    return Response(content, media_type=media_type, headers=headers)


def _errors(**described: str) -> dict[int, ResponseSpec]:
    return {int(code[1:]): ResponseSpec(data_container=ErrorBody, description=text) for code, text in described.items()}


def wants(request: Request[Any, Any, Any], given: str | None, choices: tuple[str, ...]) -> str:
    """`format=` when given, else the first of `choices` the Accept header names, else the first."""
    if given:
        return given
    accept = request.headers.get("accept", "")
    media = {"csv": "text/csv", "html": "text/html", "json": "application/json"}
    found = [(accept.find(media[c]), c) for c in choices if media[c] in accept]
    return min(found)[1] if found else choices[0]


class _CsvOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = RequestBody(required=True, description="candidate_id plus one column per category",
                                        content={"text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))})


def compliance_router(pool: asyncpg.Pool, guards: list[Guard], *, min_group_size: int,
                      interviewer_names: bool, candidate_names: CandidateName = no_name) -> Router:

    @post("/demographics/imports", summary="Import candidates' demographic categories from a CSV", status_code=201,
          operation_class=_CsvOperation, request_max_body_size=MAX_BYTES + 1,
          responses=_errors(s400="not a usable file: every problem with its line; nothing imported",
                            s401="the admin bearer token is missing or wrong", s403="the viewer token is read-only"))
    async def import_file(request: Request[Any, Any, Any]) -> Response[ImportResult]:
        try:
            parsed = await asyncio.to_thread(parse_csv, await request.body())
        except ImportInvalid as exc:
            return _refused(error_body(400, str(exc), {"problems": exc.problems, "problems_total": exc.total}))
        async with pool.acquire() as conn:
            result = await store.import_demographics(conn, parsed)
        log.info("demographics_imported", import_id=result["import_id"], rows=result["rows"], changed=result["changed"])
        return Response(ImportResult(**result), status_code=201)

    @get("/demographics/imports", summary="Demographic imports: id, columns, candidates still held",
         responses=_errors(s401="a valid bearer token is required"))
    async def list_imports() -> list[ImportHeld]:
        async with pool.acquire() as conn:
            return [ImportHeld(**row) for row in await store.imports(conn)]

    @delete("/demographics/imports/{import_id:str}", summary="Erase every category a whole import brought",
            status_code=200, responses=_errors(s401="the admin bearer token is missing or wrong",
                                               s404="no such import"))
    async def delete_import(import_id: Id) -> ImportErased:
        async with pool.acquire() as conn:
            n = await store.delete_import(conn, import_id)
        if n is None:
            raise NotFoundException(f"no demographic import {import_id}")
        log.info("demographics_import_erased", import_id=import_id, candidates=n)
        return ImportErased(import_id=import_id, erased_candidates=n)

    @delete("/demographics/candidates/{candidate_id:str}", summary="Erase one candidate's categories",
            status_code=200, responses=_errors(s401="the admin bearer token is missing or wrong",
                                               s404="no categories on record for this candidate"))
    async def delete_candidate(candidate_id: Id) -> CandidateErased:
        async with pool.acquire() as conn:
            gone = await store.delete_candidate(conn, candidate_id)
        if not gone:
            raise NotFoundException("no demographic categories on record for this candidate")
        log.info("demographics_candidate_erased")
        return CandidateErased(erased=True)

    @get("/reports/impact", summary="Selection rates and impact ratios of recorded decisions, per stage and rule",
         description="JSON, or CSV with `format=csv` or `Accept: text/csv`. Definitions: docs/compliance.md.",
         responses=_errors(s400="a parameter that makes no report, with the reason",
                           s401="a valid bearer token is required"))
    async def impact_report(request: Request[Any, Any, Any], stage_id: MaybeText = None, since: Moment = None,
                            until: Moment = None, by: MaybeText = None,
                            format: Literal["json", "csv"] | None = None) -> Response[ImpactReport]:
        try:
            start, end = window(since, until)
            dims = parse_by(by)
        except ValueError as exc:
            return _bad(exc)
        async with pool.acquire() as conn:
            units = await store.recorded_selections(conn, since=start, until=end, stage_id=stage_id)
            cats = await store.categories_by_application(conn, sorted({u.application_id for u in units}))
        rep = report("recorded", units, cats, by=dims, min_group_size=min_group_size, stage_id=stage_id,
                     since=start.isoformat() if start else None, until=end.isoformat() if end else None)
        if wants(request, format, ("json", "csv")) == "csv":
            return _text(to_csv([rep]), "text/csv", {"Content-Disposition": "attachment; filename=impact.csv"})
        return Response(rep)

    @get("/reports/oversight", summary="Human oversight: proposals confirmed, kept, unanswered; median answer time",
         description="JSON, or CSV with `format=csv` or `Accept: text/csv`. Definitions: docs/compliance.md.",
         responses=_errors(s400="a parameter that makes no report, with the reason",
                           s401="a valid bearer token is required"))
    async def oversight_report(request: Request[Any, Any, Any], since: Moment = None, until: Moment = None,
                               format: Literal["json", "csv"] | None = None) -> Response[OversightReport]:
        try:
            start, end = window(since, until)
        except ValueError as exc:
            return _bad(exc)
        async with pool.acquire() as conn:
            found, automatic = await store.proposals(conn, since=start, until=end)
        rep = oversight(found, automatic, since=start.isoformat() if start else None,
                        until=end.isoformat() if end else None)
        if wants(request, format, ("json", "csv")) == "csv":
            return _text(oversight_csv(rep), "text/csv", {"Content-Disposition": "attachment; filename=oversight.csv"})
        return Response(rep)

    @get("/applications/{application_id:str}/explanation",
         summary="Every automated decision about an application, for the candidate to read",
         description="JSON, or an HTML page with `format=html` or `Accept: text/html`.",
         responses=_errors(s401="a valid bearer token is required", s404="no events about this application"))
    async def explanation(request: Request[Any, Any, Any], application_id: Id,
                          format: Literal["json", "html"] | None = None) -> Response[Explanation]:
        async with pool.acquire() as conn:
            result = await explanation_of(conn, application_id, interviewer_names=interviewer_names,
                                          names=candidate_names)
        if result is None:
            raise NotFoundException(f"no events about application {application_id}")
        if wants(request, format, ("json", "html")) == "html":
            return _text(to_html(result), "text/html")
        return Response(result)

    return Router(path="/api", route_handlers=[import_file, list_imports, delete_import, delete_candidate,
                                               impact_report, oversight_report, explanation],
                  guards=guards, tags=["compliance"])


async def explanation_of(conn: asyncpg.Connection, application_id: str, *,
                         interviewer_names: bool, names: CandidateName = no_name) -> Explanation | None:
    decisions = await store.application_decisions(conn, application_id)
    if not decisions and not await store.knows_application(conn, application_id):
        return None
    return explain(application_id, await candidate_name(conn, application_id, names), decisions,
                   await store.answers(conn, application_id),
                   await store.titles(conn, decisions, interviewer_names=interviewer_names))

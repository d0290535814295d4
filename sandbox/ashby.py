"""A fake Ashby served over real HTTP: the API endpoints auto-advance uses, with Ashby's shapes.

State lives in memory. List endpoints page with small pages and opaque cursors, and support
incremental sync with sync tokens that expire; errors come back as Ashby sends them (HTTP 200 with
`success: false`, 401 for a bad key); `fail_next` injects 429/5xx/slow answers/error envelopes;
`application.changeStage` moves applications (an archived stage needs an archive reason); every
call is recorded. Faults can also apply a write and then answer late, with a 5xx or by dropping
the connection, as a real server under load does; `applied` and `emails` count what took effect.
Interview schedule changes and stage moves are delivered as signed webhooks to
a target URL, retried on non-2xx as Ashby does. A scenario is loaded with `load_scenario` or
`POST /_sandbox/scenario`; `/_sandbox/*` is the control API (see `docs/sandbox.md`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import itertools
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import structlog

from sandbox._server import AsgiServer, read_body, send_response
from sandbox.ashby_limit import RateLimit

log = structlog.get_logger(__name__)

Json = dict[str, Any]
DEFAULT_API_KEY = "sandbox-ashby-api-key"
NAMESPACE = uuid.UUID("6f1c3d2e-5b7a-4e8f-9a0b-1c2d3e4f5a6b")
STAGE_GROUPS = frozenset({"Lead", "PreInterviewScreen", "Active", "Offer", "Hired", "Archived"})
# list endpoint -> (collection, filters: request field -> record field)
LISTS: dict[str, tuple[str, dict[str, str]]] = {
    "applicationFeedback.list": ("feedback", {"applicationId": "applicationId"}),
    "interviewSchedule.list": ("schedules", {"applicationId": "applicationId", "interviewStageId": "interviewStageId"}),
    "job.list": ("jobs", {}),
    "interviewPlan.list": ("plans", {}),
    "interview.list": ("interviews", {}),
    "user.list": ("users", {}),
    "feedbackFormDefinition.list": ("forms", {}),
}


def sandbox_id(*parts: object) -> str:
    """A stable UUID for a scenario's readable key (Ashby ids are UUIDs)."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def webhook_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SandboxError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Fault:
    endpoint: str  # "*" for any
    times: int  # how many calls it hits; 0 = every call until `clear_faults`
    status: int = 200
    code: str | None = None  # an error envelope with this code (HTTP `status`)
    retry_after: float | None = None
    delay: float = 0.0  # answer late (longer than the client's timeout = a timeout)
    jitter: float = 0.0  # plus a random extra delay up to this
    after_apply: bool = False  # carry the call out first, then answer late / with `status` / drop
    drop: bool = False  # close the connection instead of answering
    scope: str | None = None  # `X-RateLimit-Scope` header (with a 429)


class DroppedOnPurpose(Exception):
    """Raised into the HTTP server after the response started, so it closes the connection."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedOnPurpose))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


@dataclass
class Delivery:
    id: str
    action: str
    body: bytes
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    delivered: bool = False

    def summary(self) -> Json:
        return {"id": self.id, "action": self.action, "attempts": self.attempts, "statuses": self.statuses,
                "delivered": self.delivered, "payload": orjson.loads(self.body)}


class SandboxAshby:
    """`await start()` serves it on a free port and returns the API base URL."""

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, page_size: int = 2, sync_token_ttl_s: float = 7 * 86400,
                 incremental_sync_limit: int | None = None, webhook_url: str | None = None,
                 webhook_secret: str | None = None, webhook_retry_delays: tuple[float, ...] = (0.2, 0.5, 1, 2, 5, 10),
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), rate_limit: RateLimit | None = None) -> None:
        self.api_key, self.page_size, self.sync_token_ttl_s = api_key, page_size, sync_token_ttl_s
        self.rate_limit = rate_limit  # None: no limit (see sandbox/ashby_limit.py)
        self.incremental_sync_limit = incremental_sync_limit
        self.webhook_url, self.webhook_secret = webhook_url, webhook_secret
        self.webhook_retry_delays = webhook_retry_delays
        self.clock = clock
        self.root_url = ""
        self.base_url = ""
        self._server: AsgiServer | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._attempts: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        """Forget every record, call, delivery and pending fault."""
        self.data: dict[str, dict[str, Json]] = {name: {} for name in (
            "users", "jobs", "plans", "stages", "interviews", "forms", "archive_reasons", "candidates",
            "applications", "schedules", "feedback")}
        self.versions: dict[tuple[str, str], int] = {}
        self.calls: list[Json] = []
        self.stage_changes: list[Json] = []
        self.applied: list[Json] = []  # writes that took effect (whatever the caller was answered)
        self.emails: list[Json] = []  # archive emails asked for by applied changeStage calls
        self.deliveries: list[Delivery] = []
        self._queue: list[Delivery] = []
        self._faults: list[Fault] = []
        self._version = itertools.count(1)
        self._current_version = 0
        self._tokens_valid_from = 0.0
        self._plan_keys: dict[str, str] = {}

    # --- records -----------------------------------------------------------------------------

    def _put(self, kind: str, record: Json) -> Json:
        self._current_version = next(self._version)
        self.data[kind][record["id"]] = record
        self.versions[(kind, record["id"])] = self._current_version
        return record

    def _now(self) -> str:
        return iso(self.clock())

    def add_user(self, key: str, first_name: str, last_name: str, email: str, *, role: str = "Limited Access",
                 user_id: str | None = None) -> Json:
        return self._put("users", {
            "id": user_id or sandbox_id("user", key), "firstName": first_name, "lastName": last_name, "email": email,
            "globalRole": role, "isEnabled": True, "updatedAt": self._now()})

    def add_archive_reason(self, key: str, text: str, *, reason_type: str = "RejectedByOrg") -> Json:
        return self._put("archive_reasons", {"id": sandbox_id("archive-reason", key), "text": text,
                                             "reasonType": reason_type, "isArchived": False})

    def add_form(self, key: str, title: str, fields: list[Json]) -> Json:
        """`fields`: [{"path", "title", "type" (Score|Boolean|ValueSelect|String|...), "required", "values"}]."""
        entries = []
        for spec in fields:
            entry_field: Json = {"id": sandbox_id("form-field", key, spec["path"]), "type": spec.get("type", "Score"),
                                 "path": spec["path"], "humanReadablePath": spec.get("title", spec["path"]),
                                 "title": spec.get("title", spec["path"]), "isNullable": not spec.get("required", True)}
            if spec.get("values"):
                entry_field["selectableValues"] = [{"label": str(v), "value": str(v)} for v in spec["values"]]
            entries.append({"isRequired": bool(spec.get("required", True)), "field": entry_field})
        return self._put("forms", {
            "id": sandbox_id("form", key), "organizationId": sandbox_id("organization"), "title": title,
            "isArchived": False, "isDefaultForm": False, "formDefinition": {"sections": [{"title": title,
                                                                                         "fields": entries}]}})

    def add_interview(self, key: str, title: str, form_key: str, *, feedback_required: bool = True) -> Json:
        return self._put("interviews", {
            "id": sandbox_id("interview", key), "title": title, "externalTitle": title, "isArchived": False,
            "isDebrief": False, "isFeedbackRequired": feedback_required, "isFeedbackRequested": True,
            "feedbackFormDefinitionId": sandbox_id("form", form_key)})

    def add_plan(self, key: str, title: str, stages: list[Json]) -> Json:
        """`stages`: [{"key", "title", "type"}] in order; add an `Archived` one for rejections."""
        plan_id = sandbox_id("plan", key)
        self._plan_keys[plan_id] = key
        now = self._now()
        plan = self._put("plans", {"id": plan_id, "title": title, "isArchived": False, "createdAt": now,
                                   "updatedAt": now})
        for order, spec in enumerate(stages):
            kind = spec.get("type", "Active")
            self._put("stages", {"id": sandbox_id("stage", key, spec["key"]), "title": spec.get("title", spec["key"]),
                                 "type": kind, "orderInInterviewPlan": order,
                                 "interviewStageGroupId": sandbox_id("stage-group", kind if kind in STAGE_GROUPS else "Active"),
                                 "interviewPlanId": plan_id})
        return plan

    def add_job(self, key: str, title: str, plan_key: str, *, recruiter_key: str | None = None,
                hiring_manager_key: str | None = None) -> Json:
        team = []
        for role, member_key in (("Recruiter", recruiter_key), ("Hiring Manager", hiring_manager_key)):
            if member_key:
                user = self.data["users"][sandbox_id("user", member_key)]
                team.append({"email": user["email"], "firstName": user["firstName"], "lastName": user["lastName"],
                             "role": role, "userId": user["id"]})
        plan_id = sandbox_id("plan", plan_key)
        now = self._now()
        return self._put("jobs", {
            "id": sandbox_id("job", key), "title": title, "confidential": False, "status": "Open",
            "employmentType": "FullTime", "defaultInterviewPlanId": plan_id, "interviewPlanIds": [plan_id],
            "hiringTeam": team, "customFields": [], "jobPostingIds": [], "createdAt": now, "updatedAt": now,
            "openedAt": now})

    def add_application(self, key: str, candidate_name: str, job_key: str, stage_key: str, *,
                        candidate_email: str | None = None) -> Json:
        job = self._get("jobs", sandbox_id("job", job_key))
        stage_id = self.stage_id(job["id"], stage_key)
        candidate = self._put("candidates", {
            "id": sandbox_id("candidate", key), "name": candidate_name,
            "primaryEmailAddress": {"value": candidate_email or f"{key}@candidates.example", "type": "Personal",
                                    "isPrimary": True}})
        now = self._now()
        return self._put("applications", {
            "id": sandbox_id("application", key), "candidateId": candidate["id"], "jobId": job["id"],
            "stageId": stage_id, "status": "Active", "archiveReasonId": None, "archivedAt": None,
            "createdAt": now, "updatedAt": now})

    def stage_id(self, job_id: str, stage: str) -> str:
        """A stage of the job's plan, by scenario key or id."""
        plan_id = self.data["jobs"][job_id]["defaultInterviewPlanId"]
        for candidate in (stage, sandbox_id("stage", self._plan_keys.get(plan_id), stage)):
            found = self.data["stages"].get(candidate)
            if found is not None and found["interviewPlanId"] == plan_id:
                return candidate
        raise SandboxError("invalid_input", "interviewStageId is not a stage of the application's interview plan")

    # --- scenario ------------------------------------------------------------------------------

    def load_scenario(self, doc: Json) -> Json:
        """Load users, archive reasons, forms, interviews, plans, jobs and applications (readable keys;
        ids are derived UUIDs), then schedules and feedback. Returns the ids by key."""
        ids: Json = {"users": {}, "archive_reasons": {}, "forms": {}, "interviews": {}, "plans": {}, "stages": {},
                     "jobs": {}, "applications": {}, "schedules": {}, "feedback": {}}
        for u in doc.get("users", []):
            ids["users"][u["key"]] = self.add_user(u["key"], u.get("first_name", u["key"]), u.get("last_name", ""),
                                                   u.get("email", f"{u['key']}@example.com"),
                                                   role=u.get("role", "Limited Access"))["id"]
        for r in doc.get("archive_reasons", []):
            ids["archive_reasons"][r["key"]] = self.add_archive_reason(r["key"], r.get("text", r["key"]),
                                                                       reason_type=r.get("type", "RejectedByOrg"))["id"]
        for f in doc.get("forms", []):
            ids["forms"][f["key"]] = self.add_form(f["key"], f.get("title", f["key"]), f.get("fields", []))["id"]
        for i in doc.get("interviews", []):
            ids["interviews"][i["key"]] = self.add_interview(i["key"], i.get("title", i["key"]), i["form"],
                                                             feedback_required=i.get("feedback_required", True))["id"]
        for p in doc.get("plans", []):
            ids["plans"][p["key"]] = self.add_plan(p["key"], p.get("title", p["key"]), p["stages"])["id"]
            for s in p["stages"]:
                ids["stages"][f"{p['key']}/{s['key']}"] = sandbox_id("stage", p["key"], s["key"])
        for j in doc.get("jobs", []):
            ids["jobs"][j["key"]] = self.add_job(j["key"], j.get("title", j["key"]), j["plan"],
                                                 recruiter_key=j.get("recruiter"),
                                                 hiring_manager_key=j.get("hiring_manager"))["id"]
        for a in doc.get("applications", []):
            ids["applications"][a["key"]] = self.add_application(
                a["key"], a.get("candidate", a["key"]), a["job"], a["stage"], candidate_email=a.get("email"))["id"]
        for s in doc.get("schedules", []):
            ids["schedules"][s["key"]] = self.set_schedule(s["key"], s["application"], s.get("status", "Scheduled"),
                                                           s.get("interviews", []))["id"]
        for f in doc.get("feedback", []):
            ids["feedback"][f["key"]] = self.submit_feedback(f["key"], f["application"], f["interview"], f["user"],
                                                             f["values"])["id"]
        return ids

    # --- what recruiters and interviewers do ---------------------------------------------------

    def _app(self, app_key_or_id: str) -> Json:
        apps = self.data["applications"]
        found = apps.get(app_key_or_id) or apps.get(sandbox_id("application", app_key_or_id))
        if found is None:
            raise SandboxError("application_not_found", "no such application")
        return found

    def _id(self, kind: str, key_or_id: str, *prefix: str) -> str:
        if key_or_id in self.data[kind]:
            return key_or_id
        derived = sandbox_id(*prefix, key_or_id) if prefix else key_or_id
        if derived not in self.data[kind]:
            raise SandboxError("invalid_input", f"unknown {kind[:-1]} {key_or_id!r}")
        return derived

    def set_schedule(self, key: str, application: str, status: str, interviews: list[Json]) -> Json:
        """Create or update a schedule; `interviews`: [{"interview": key, "interviewers": [user keys],
        "feedback_required": [user keys] (default all)}]. Sends `interviewScheduleUpdate`."""
        app = self._app(application)
        schedule_id = sandbox_id("schedule", key)
        old = self.data["schedules"].get(schedule_id)
        now = self._now()
        events = []
        for index, spec in enumerate(interviews):
            interview_id = self._id("interviews", spec["interview"], "interview")
            users = [self.data["users"][self._id("users", u, "user")] for u in spec.get("interviewers", [])]
            required = spec.get("feedback_required")
            required_ids = {self._id("users", u, "user") for u in required} if required is not None else None
            event_id = sandbox_id("interview-event", key, index)
            submitted = any(f.get("interviewEventId") == event_id for f in self.data["feedback"].values())
            events.append({
                "id": event_id, "interviewId": interview_id, "interviewScheduleId": schedule_id,
                "interviewerUserIds": [u["id"] for u in users],
                "interviewers": [{**u, "trainingRole": None, "interviewerPool": None,
                                  "isFeedbackRequired": required_ids is None or u["id"] in required_ids}
                                 for u in users],
                "createdAt": old["createdAt"] if old else now, "updatedAt": now,
                "startTime": spec.get("start", now), "endTime": spec.get("end", now),
                "feedbackLink": f"https://app.ashbyhq.com/interview-briefings/{event_id}/feedback",
                "location": None, "meetingLink": None, "hasSubmittedFeedback": submitted})
        schedule = self._put("schedules", {
            "id": schedule_id, "status": status, "applicationId": app["id"], "interviewStageId": app["stageId"],
            "createdAt": old["createdAt"] if old else now, "updatedAt": now, "interviewEvents": events})
        self.send_webhook("interviewScheduleUpdate",
                          {"interviewSchedule": {**schedule, "candidateId": app["candidateId"]}})
        return schedule

    def set_schedule_status(self, key_or_id: str, status: str) -> Json:
        schedule_id = key_or_id if key_or_id in self.data["schedules"] else sandbox_id("schedule", key_or_id)
        schedule = self.data["schedules"].get(schedule_id)
        if schedule is None:
            raise SandboxError("invalid_input", "no such schedule")
        schedule = self._put("schedules", {**schedule, "status": status, "updatedAt": self._now()})
        app = self.data["applications"][schedule["applicationId"]]
        self.send_webhook("interviewScheduleUpdate",
                          {"interviewSchedule": {**schedule, "candidateId": app["candidateId"]}})
        return schedule

    def submit_feedback(self, key: str, application: str, interview: str, user: str, values: Json) -> Json:
        """Submit (or, with the same key, edit) an interviewer's feedback. Ashby sends no webhook."""
        app = self._app(application)
        interview_id = self._id("interviews", interview, "interview")
        user_id = self._id("users", user, "user")
        form = self.data["forms"][self.data["interviews"][interview_id]["feedbackFormDefinitionId"]]
        event_id = next((e["id"] for s in self.data["schedules"].values() if s["applicationId"] == app["id"]
                         for e in s["interviewEvents"]
                         if e["interviewId"] == interview_id and user_id in e["interviewerUserIds"]), None)
        feedback_id = sandbox_id("feedback", key)
        item: Json = {
            "id": feedback_id, "applicationId": app["id"], "formDefinition": form["formDefinition"],
            "submittedValues": values, "submittedByUser": self.data["users"][user_id], "interviewId": interview_id,
            "feedbackFormDefinitionId": form["id"], "submittedAt": self._now()}
        if event_id:
            item["interviewEventId"] = event_id
            for schedule in self.data["schedules"].values():
                for event in schedule["interviewEvents"]:
                    if event["id"] == event_id:
                        event["hasSubmittedFeedback"] = True
        return self._put("feedback", item)

    def move(self, application: str, stage_id: str, *, archive_reason_id: str | None = None,
             by: str = "recruiter", archive_email: Json | None = None) -> Json:
        """Move an application (what `application.changeStage` and a recruiter in Ashby's UI do).
        An archive email is recorded in `emails`; as in Ashby, none goes out if it was archived already."""
        app = self._app(application)
        stage_id = self.stage_id(app["jobId"], stage_id)
        stage = self.data["stages"][stage_id]
        archived = stage["type"] == "Archived"
        if archived and not archive_reason_id:
            raise SandboxError("invalid_input", "archiveReasonId is required when moving to an Archived stage")
        if archive_email is not None and (not archived or not isinstance(archive_email, dict)
                                          or not archive_email.get("communicationTemplateId")):
            raise SandboxError("invalid_input", "archiveEmail needs a communicationTemplateId and an Archived stage")
        if archive_email is not None:
            self.emails.append({"application_id": app["id"], "at": self._now(), "sent": app["status"] != "Archived",
                                "communication_template_id": archive_email["communicationTemplateId"]})
        if archive_reason_id:
            archive_reason_id = self._id("archive_reasons", archive_reason_id, "archive-reason")
        now = self._now()
        app = self._put("applications", {
            **app, "stageId": stage_id, "updatedAt": now,
            "status": "Archived" if archived else "Hired" if stage["type"] == "Hired" else "Active",
            "archiveReasonId": archive_reason_id if archived else None, "archivedAt": now if archived else None})
        self.stage_changes.append({"application_id": app["id"], "stage_id": stage_id, "by": by,
                                   "archive_reason_id": archive_reason_id, "at": now})
        self.send_webhook("candidateStageChange", {"application": self.application_info(app["id"])})
        return app

    def merge_candidates(self, deleted: str, merged: str) -> Json:
        """Merge candidate `deleted` into `merged`, as a recruiter does in Ashby's UI, and send the
        `candidateMerge` webhook. The deleted candidate's applications move to the merged one; an
        application for a job the merged candidate already applied to is merged into that one and
        no longer exists (its feedback goes with it). Returns {application id: surviving id}."""
        deleted_id = self._id("candidates", deleted, "candidate")
        merged_id = self._id("candidates", merged, "candidate")
        apps = self.data["applications"]
        by_job = {a["jobId"]: a["id"] for a in apps.values() if a["candidateId"] == merged_id}
        outcome: Json = {}
        for app in [a for a in apps.values() if a["candidateId"] == deleted_id]:
            survivor = by_job.get(app["jobId"])
            if survivor is None:
                self._put("applications", {**app, "candidateId": merged_id, "updatedAt": self._now()})
                outcome[app["id"]] = app["id"]
                continue
            del apps[app["id"]]
            for item in self.data["feedback"].values():
                if item.get("applicationId") == app["id"]:
                    item["applicationId"] = survivor
            outcome[app["id"]] = survivor
        del self.data["candidates"][deleted_id]
        self._current_version = next(self._version)
        self.send_webhook("candidateMerge", {"deletedCandidate": {"id": deleted_id},
                                             "mergedCandidate": {"id": merged_id}})
        return outcome

    def change_job(self, application: str, job: str, stage: str) -> Json:
        """Move an application to another job (and so, maybe, another plan), as Ashby's "change job"
        does, and send the `applicationUpdate` webhook."""
        app = self._app(application)
        job_id = self._id("jobs", job, "job")
        app = self._put("applications", {**app, "jobId": job_id, "stageId": self.stage_id(job_id, stage),
                                          "updatedAt": self._now()})
        self.send_webhook("applicationUpdate", {"application": self.application_info(app["id"])})
        return app

    def candidate_info(self, candidate_id: str) -> Json:
        candidate = self._get("candidates", candidate_id)
        emails = [candidate["primaryEmailAddress"]] if candidate.get("primaryEmailAddress") else []
        return {**candidate, "emailAddresses": emails, "phoneNumbers": [], "socialLinks": [], "tags": [],
                "fileHandles": [], "profileUrl": f"https://app.ashbyhq.com/candidates/{candidate_id}",
                "applicationIds": sorted(a["id"] for a in self.data["applications"].values()
                                         if a["candidateId"] == candidate_id)}

    # --- API shapes ------------------------------------------------------------------------------

    def application_info(self, application_id: str) -> Json:
        app = self._app(application_id)
        job = self.data["jobs"][app["jobId"]]
        candidate = self.data["candidates"][app["candidateId"]]
        out: Json = {
            "id": app["id"], "createdAt": app["createdAt"], "updatedAt": app["updatedAt"], "status": app["status"],
            "customFields": [], "candidate": candidate, "currentInterviewStage": self.data["stages"][app["stageId"]],
            "job": {"id": job["id"], "title": job["title"]}, "hiringTeam": job["hiringTeam"]}
        if app["archiveReasonId"]:
            reason = self.data["archive_reasons"][app["archiveReasonId"]]
            out["archiveReason"] = {**reason, "customFields": []}
            out["archivedAt"] = app["archivedAt"]
        return out

    def stage(self, application: str) -> Json:
        """The application's current stage record."""
        return self.data["stages"][self._app(application)["stageId"]]

    # --- faults --------------------------------------------------------------------------------

    def fail_next(self, endpoint: str = "*", *, status: int = 200, code: str | None = None,
                  retry_after: float | None = None, delay: float = 0.0, times: int = 1, jitter: float = 0.0,
                  after_apply: bool = False, drop: bool = False, scope: str | None = None) -> None:
        """The next `times` calls of `endpoint` (every call with `times=0`) fail: HTTP `status` (429, 5xx,
        4xx), an error envelope with `code` (HTTP 200 unless `status` says otherwise), a dropped
        connection, or an answer `delay` (+ up to `jitter`) seconds late. With `after_apply` the call
        takes effect first, so the caller cannot tell from the answer whether it did."""
        self._faults.append(Fault(endpoint, times, status, code, retry_after, delay, jitter, after_apply, drop, scope))

    def clear_faults(self) -> None:
        self._faults.clear()

    def applied_count(self, endpoint: str = "application.changeStage", application_id: str | None = None) -> int:
        """How many calls of `endpoint` took effect (for one application, if given)."""
        return sum(1 for a in self.applied if a["endpoint"] == endpoint
                   and (application_id is None or a["body"].get("applicationId") == application_id))

    def expire_sync_tokens(self) -> None:
        """Every sync token issued so far is now expired (as after a long outage)."""
        self._tokens_valid_from = time.time() + 1e-6

    def _take_fault(self, endpoint: str) -> Fault | None:
        for fault in self._faults:
            if fault.endpoint in (endpoint, "*"):
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None

    # --- the API -------------------------------------------------------------------------------

    async def handle_api(self, endpoint: str, body: bytes, headers: dict[str, str]) -> tuple[int, Json, dict]:
        try:
            request = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            request = None
        call: Json = {"endpoint": endpoint, "body": request, "at": time.time(),
                      "accept": headers.get("accept"), "authorized": self._authorized(headers)}
        self.calls.append(call)
        if self.rate_limit is not None and (limited := self.rate_limit.answer(headers.get("authorization", ""))):
            call["status"], call["response"] = limited[0], limited[1]
            return limited
        fault = self._take_fault(endpoint)
        if fault is not None and not fault.after_apply:
            answer = await self._fault_answer(call, fault)
            if answer is not None:
                return answer
        status, doc = self._answer(call, request)
        if fault is not None and fault.after_apply:
            call["applied_then"] = "dropped" if fault.drop else fault.status
            answer = await self._fault_answer(call, fault)
            if answer is not None:
                return answer
        return status, doc, {}

    async def _fault_answer(self, call: Json, fault: Fault) -> tuple[int, Json, dict] | None:
        """Sleep the fault's latency; then its failure answer, or None to answer normally."""
        delay = fault.delay + (random.uniform(0, fault.jitter) if fault.jitter else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if fault.drop:
            call["status"] = "dropped"
            raise DroppedOnPurpose(call["endpoint"])
        if fault.status == 200 and not fault.code:
            return None
        extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        if fault.scope:
            extra["X-RateLimit-Scope"] = fault.scope
        call["status"] = fault.status
        call["response"] = _error(fault.code or f"http_{fault.status}", "injected failure")
        return fault.status, call["response"], extra

    def _answer(self, call: Json, request: Any) -> tuple[int, Json]:
        endpoint = call["endpoint"]
        if not call["authorized"]:
            call["status"], call["response"] = 401, _error("invalid_api_key", "the API key is missing or wrong")
            return 401, call["response"]
        if not isinstance(request, dict):
            call["status"], call["response"] = 400, _error("invalid_input", "the body must be a JSON object")
            return 400, call["response"]
        try:
            doc = self._dispatch(endpoint, request)
        except SandboxError as exc:
            call["code"] = exc.code
            doc = _error(exc.code, exc.message)
        call["status"], call["response"] = 200, doc
        return 200, doc

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self.api_key.encode())

    def _dispatch(self, endpoint: str, req: Json) -> Json:
        if endpoint in LISTS:
            return self._list(endpoint, req)
        if endpoint == "application.info":
            return _ok(self.application_info(_required(req, "applicationId")))
        if endpoint == "candidate.info":
            return _ok(self.candidate_info(_required(req, "id")))
        if endpoint == "application.changeStage":
            app = self.move(_required(req, "applicationId"), _required(req, "interviewStageId"),
                            archive_reason_id=req.get("archiveReasonId"), by="api",
                            archive_email=req.get("archiveEmail"))
            self.applied.append({"endpoint": endpoint, "body": req, "at": time.time()})
            return _ok(self.application_info(app["id"]))
        if endpoint == "interviewStage.list":
            plan_id = _required(req, "interviewPlanId")
            stages = sorted((s for s in self.data["stages"].values() if s["interviewPlanId"] == plan_id),
                            key=lambda s: s["orderInInterviewPlan"])
            return {"success": True, "results": stages, "moreDataAvailable": False}
        if endpoint == "interviewStage.info":
            return _ok(self._get("stages", _required(req, "interviewStageId")))
        if endpoint == "archiveReason.list":
            return _ok([r for r in self.data["archive_reasons"].values()
                        if req.get("includeArchived") or not r["isArchived"]])
        if endpoint == "job.info":
            return _ok(self._get("jobs", _required(req, "id")))
        if endpoint == "user.info":
            return _ok(self._get("users", _required(req, "userId")))
        if endpoint == "interview.info":
            return _ok(self._get("interviews", _required(req, "id")))
        if endpoint == "feedbackFormDefinition.info":
            return _ok(self._get("forms", _required(req, "feedbackFormDefinitionId")))
        raise SandboxError("endpoint_not_found", f"the sandbox does not implement {endpoint}")

    def _get(self, kind: str, record_id: str) -> Json:
        if record_id not in self.data[kind]:
            raise SandboxError("not_found", f"no such {kind[:-1]}")
        return self.data[kind][record_id]

    def _list(self, endpoint: str, req: Json) -> Json:
        kind, filters = LISTS[endpoint]
        limit = req.get("limit", 100)
        if not isinstance(limit, int | float) or limit < 1:
            raise SandboxError("invalid_input", "limit must be a positive number")
        page_size = max(1, min(int(limit), 100, self.page_size))
        if req.get("cursor"):
            since, upto, after = self._read_cursor(req["cursor"])
        else:
            since = self._read_token(req["syncToken"]) if req.get("syncToken") else 0
            upto, after = self._current_version, None
        matches = sorted((self.versions[(kind, rid)], rid) for rid, record in self.data[kind].items()
                         if since < self.versions[(kind, rid)] <= upto
                         and all(req.get(f) is None or record.get(field_) == req[f] for f, field_ in filters.items()))
        if since and self.incremental_sync_limit is not None and len(matches) > self.incremental_sync_limit:
            raise SandboxError("incremental_sync_too_large", "too many changes since the sync token; do a full sync")
        if after is not None:
            matches = [m for m in matches if m > after]
        page, more = matches[:page_size], len(matches) > page_size
        doc: Json = {"success": True, "results": [self.data[kind][rid] for _, rid in page], "moreDataAvailable": more}
        if more:
            doc["nextCursor"] = _encode({"s": since, "u": upto, "a": list(page[-1])})
        else:
            doc["syncToken"] = _encode({"v": upto, "t": time.time()})
        return doc

    def _read_cursor(self, cursor: str) -> tuple[int, int, tuple[int, str]]:
        try:
            doc = _decode(cursor)
            return int(doc["s"]), int(doc["u"]), (int(doc["a"][0]), str(doc["a"][1]))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise SandboxError("invalid_cursor", "the cursor is not one this API issued") from exc

    def _read_token(self, token: str) -> int:
        try:
            doc = _decode(token)
            version, issued = int(doc["v"]), float(doc["t"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SandboxError("sync_token_invalid", "the sync token is not one this API issued") from exc
        if issued < self._tokens_valid_from or time.time() - issued > self.sync_token_ttl_s:
            raise SandboxError("sync_token_expired", "the sync token has expired; do a full sync")
        return version

    # --- webhooks ------------------------------------------------------------------------------

    def send_webhook(self, action: str, data: Json) -> Delivery | None:
        """Queue a signed webhook for the target URL (none is sent while no target is set)."""
        if not self.webhook_url:
            return None
        body = orjson.dumps({"action": action, "data": data, "webhookActionId": str(uuid.uuid4())})
        delivery = Delivery(id=str(uuid.uuid4()), action=action, body=body)
        self.deliveries.append(delivery)
        self._queue.append(delivery)
        self._wake.set()
        return delivery

    def ping(self) -> Delivery | None:
        return self.send_webhook("ping", {"webhookActionType": "ping"})

    async def _deliver_loop(self) -> None:
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    task = asyncio.create_task(self._deliver(client, self._queue.pop(0)))
                    self._attempts.add(task)
                    task.add_done_callback(self._attempts.discard)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        delays = (0.0, *self.webhook_retry_delays)
        for delay in delays:
            if delay:
                await asyncio.sleep(delay)
            delivery.attempts += 1
            headers = {"Content-Type": "application/json"}
            if self.webhook_secret:
                headers["Ashby-Signature"] = webhook_signature(delivery.body, self.webhook_secret)
            try:
                response = await client.post(self.webhook_url or "", content=delivery.body, headers=headers)
                delivery.statuses.append(response.status_code)
                if 200 <= response.status_code < 300:
                    delivery.delivered = True
                    return
            except httpx.HTTPError as exc:
                delivery.statuses.append(type(exc).__name__)
        log.warning("sandbox_webhook_gave_up", action=delivery.action, attempts=delivery.attempts)

    async def webhooks_settled(self, timeout: float = 10.0) -> bool:
        """Wait until every queued webhook was delivered or given up on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._queue and all(d.delivered or d.attempts > len(self.webhook_retry_delays)
                                       for d in self.deliveries):
                return True
            await asyncio.sleep(0.02)
        return False

    # --- server --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = AsgiServer(self._asgi, "sandbox Ashby")
        self.root_url = await self._server.start(host, port)
        self.base_url = self.root_url
        self._wake = asyncio.Event()
        if self._queue:
            self._wake.set()
        self._deliverer = asyncio.create_task(self._deliver_loop())
        return self.base_url

    async def stop(self) -> None:
        for task in [*self._attempts, *([self._deliverer] if self._deliverer else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._deliverer = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _asgi(self, scope: Json, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        extra: dict[str, str] = {}
        if path.startswith("/_sandbox/"):
            status, doc = self._control(scope["method"], path[len("/_sandbox/"):], body,
                                        scope.get("query_string", b"").decode())
        elif scope["method"] == "POST" and path.count("/") == 1 and "." in path:
            try:
                status, doc, extra = await self.handle_api(path[1:], body, headers)
            except DroppedOnPurpose:  # start an answer, then break it off: the client sees a lost connection
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
                raise
        else:
            status, doc = 404, _error("endpoint_not_found", "no such endpoint")
        await send_response(send, status, doc, extra)

    def _control(self, method: str, path: str, body: bytes, query: str) -> tuple[int, Json]:
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return 400, {"ok": False, "error": "body must be JSON"}
        try:
            return 200, {"ok": True, **self._control_route(method, path, doc, query)}
        except SandboxError as exc:
            return 400, {"ok": False, "error": f"{exc.code}: {exc.message}"}
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"ok": False, "error": f"bad request: {type(exc).__name__} {exc}"}

    def _control_route(self, method: str, path: str, doc: Json, query: str) -> Json:
        parts = path.strip("/").split("/")
        if method == "GET" and path == "calls":
            endpoint = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("endpoint")
            return {"calls": [c for c in self.calls if endpoint is None or c["endpoint"] == endpoint]}
        if method == "GET" and path == "webhooks":
            return {"deliveries": [d.summary() for d in self.deliveries]}
        if method == "GET" and path == "stage_changes":
            return {"stage_changes": self.stage_changes}
        if method == "GET" and path == "applied":
            return {"applied": self.applied, "emails": self.emails}
        if method == "GET" and len(parts) == 2 and parts[0] == "applications":
            return {"application": self.application_info(parts[1])}
        if method != "POST":
            raise SandboxError("not_found", "unknown sandbox route")
        if path == "scenario":
            return {"ids": self.load_scenario(doc)}
        if path == "reset":
            self.reset()
            return {}
        if path == "schedules":
            return {"schedule": self.set_schedule(doc["key"], doc["application"], doc.get("status", "Scheduled"),
                                                  doc.get("interviews", []))}
        if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "status":
            return {"schedule": self.set_schedule_status(parts[1], doc["status"])}
        if path == "feedback":
            return {"feedback": self.submit_feedback(doc["key"], doc["application"], doc["interview"], doc["user"],
                                                     doc["values"])}
        if len(parts) == 3 and parts[0] == "applications" and parts[2] == "move":
            app = self.move(parts[1], doc["stage"], archive_reason_id=doc.get("archive_reason_id"))
            return {"application": self.application_info(app["id"])}
        if path == "candidates/merge":
            return {"merged": self.merge_candidates(doc["deleted"], doc["merged"])}
        if len(parts) == 3 and parts[0] == "applications" and parts[2] == "job":
            app = self.change_job(parts[1], doc["job"], doc["stage"])
            return {"application": self.application_info(app["id"])}
        if path == "faults":
            self.fail_next(doc.get("endpoint", "*"), status=int(doc.get("status", 200)), code=doc.get("code"),
                           retry_after=doc.get("retry_after"), delay=float(doc.get("delay", 0)),
                           times=int(doc.get("times", 1)), jitter=float(doc.get("jitter", 0)),
                           after_apply=bool(doc.get("after_apply", False)), drop=bool(doc.get("drop", False)),
                           scope=doc.get("scope"))
            return {}
        if path == "faults/clear":
            self.clear_faults()
            return {}
        if path == "rate_limit":  # {"per_s": 0} turns it off
            per_s = float(doc.get("per_s") or 0)
            self.rate_limit = RateLimit(per_s, doc.get("burst"), retry_after=bool(doc.get("retry_after", True))) \
                if per_s > 0 else None
            return {}
        if path == "sync_tokens/expire":
            self.expire_sync_tokens()
            return {}
        if path == "webhook_target":
            self.webhook_url, self.webhook_secret = doc["url"], doc.get("secret")
            return {}
        raise SandboxError("not_found", "unknown sandbox route")


def _ok(results: Any) -> Json:
    return {"success": True, "results": results}


def _error(code: str, message: str) -> Json:
    return {"success": False, "errors": [code],
            "errorInfo": {"code": code, "message": message, "requestId": str(uuid.uuid4())}}


def _required(req: Json, name: str) -> str:
    value = req.get(name)
    if not isinstance(value, str) or not value:
        raise SandboxError("invalid_input", f"{name} is required")
    return value


def _encode(doc: Json) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(doc)).decode().rstrip("=")


def _decode(text: str) -> Json:
    try:
        return orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, orjson.JSONDecodeError) as exc:
        raise ValueError("undecodable") from exc

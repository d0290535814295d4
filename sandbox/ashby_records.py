"""The sandbox Ashby's recruiting world: users, jobs, plans, applications, schedules, feedback, and
what recruiters and interviewers do to them (moves, merges, job changes), with the `*.info` shapes.

Every record change bumps a version (list endpoints sync by it, see sandbox/ashby_api.py); changes
Ashby announces are sent as webhooks (sandbox/ashby_webhooks.py).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from sandbox.ashby_webhooks import AshbyWebhooks, Json

NAMESPACE = uuid.UUID("6f1c3d2e-5b7a-4e8f-9a0b-1c2d3e4f5a6b")
STAGE_GROUPS = frozenset({"Lead", "PreInterviewScreen", "Active", "Offer", "Hired", "Archived"})


def sandbox_id(*parts: object) -> str:
    """A stable UUID for a scenario's readable key (Ashby ids are UUIDs)."""
    return str(uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts)))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class SandboxError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class AshbyRecords(AshbyWebhooks):
    """The records by kind and id, each with the version of its last change."""

    clock: Callable[[], datetime]
    data: dict[str, dict[str, Json]]
    versions: dict[tuple[str, str], int]
    stage_changes: list[Json]
    emails: list[Json]  # archive emails asked for by applied changeStage calls
    _version: Iterator[int]
    _current_version: int
    _plan_keys: dict[str, str]

    def reset(self) -> None:
        super().reset()
        self.data = {name: {} for name in (
            "users", "jobs", "plans", "stages", "interviews", "forms", "archive_reasons", "candidates",
            "applications", "schedules", "feedback")}
        self.versions = {}
        self.stage_changes = []
        self.emails = []
        self._version = itertools.count(1)
        self._current_version = 0
        self._plan_keys = {}

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

    def _get(self, kind: str, record_id: str) -> Json:
        if record_id not in self.data[kind]:
            raise SandboxError("not_found", f"no such {kind[:-1]}")
        return self.data[kind][record_id]

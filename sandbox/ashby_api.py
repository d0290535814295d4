"""The sandbox Ashby's API surface: Basic auth, the endpoints and their dispatch, list paging with
opaque cursors and expiring sync tokens, the rate limit, and injected faults (`Fault`, `fail_next`).

Errors come back as Ashby sends them (HTTP 200 with `success: false`, 401 for a bad key); every call
is recorded in `calls`, every write that took effect in `applied`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from sandbox.ashby_limit import RateLimit
from sandbox.ashby_records import AshbyRecords, SandboxError
from sandbox.ashby_webhooks import Json

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


class AshbyApi(AshbyRecords):
    """`handle_api` answers one API call over the records; settings are set by `SandboxAshby.__init__`."""

    api_key: str
    page_size: int
    sync_token_ttl_s: float
    incremental_sync_limit: int | None
    rate_limit: RateLimit | None  # None: no limit (see sandbox/ashby_limit.py)
    calls: list[Json]
    applied: list[Json]  # writes that took effect (whatever the caller was answered)
    _faults: list[Fault]
    _tokens_valid_from: float

    def reset(self) -> None:
        super().reset()
        self.calls = []
        self.applied = []
        self._faults = []
        self._tokens_valid_from = 0.0

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

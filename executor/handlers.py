"""Carrying out Ashby commands: inbox first, stale-decision guard, one call, outcome as an event.

Network calls happen between short transactions. Transient failures raise (the runtime NAKs
with a growing delay); permanent ones mark the inbox failed and raise, so the runtime dead-letters
the command; its dead-letter hook (executor/dead_letters.py) records `CommandFailed` and alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import structlog

from contracts.consumers import Delivered
from contracts.envelope import Envelope
from contracts.errors import PermanentError
from contracts.outcomes import outcome_event
from executor import store
from executor.plan import archived_stages, classify

log = structlog.get_logger(__name__)
DURABLE = "executor-ashby-v1"
DONE = ("succeeded", "skipped", "failed")


class AshbyCalls(Protocol):
    async def call(self, endpoint: str, body: dict[str, Any]) -> Any: ...


class Publisher(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...
    async def publish(self, subject: str, envelope: Envelope) -> tuple[int, bool]: ...


def command_handler(api: AshbyCalls, publisher: Publisher, *, dry_run: bool = False,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
    async def execute(pool: asyncpg.Pool, d: Delivered) -> None:
        cmd = d.envelope
        p = cmd.payload
        command_id, app_id = p["command_id"], p["application_id"]
        async with pool.acquire() as conn:
            earlier = await store.claim(conn, command_id, cmd.event_type, app_id)
        if earlier in DONE and not (earlier == "failed" and d.retried):  # an operator's retry runs again
            log.info("command_already_done", command_id=command_id, status=earlier)
            return
        try:
            outcome, reason, details = await _carry_out(api, cmd, dry_run)
        except PermanentError as exc:
            reason = f"{type(exc).__name__}: {exc}"[:500]
            async with pool.acquire() as conn:
                await store.finish(conn, command_id, "failed", reason)
            log.error("command_failed", command_id=command_id, key=app_id, error=reason[:200])
            raise
        kind = {"succeeded": "CommandSucceeded", "skipped": "CommandSkipped"}[outcome]
        await publisher.publish_event(outcome_event(kind, cmd, "executor", clock(), reason=reason, details=details))
        async with pool.acquire() as conn:
            await store.finish(conn, command_id, outcome, reason)
        log.info("command_" + outcome, command_id=command_id, key=app_id, command_type=cmd.event_type)

    return execute


async def _carry_out(api: AshbyCalls, cmd: Envelope, dry_run: bool) -> tuple[str, str | None, dict[str, Any]]:
    p = cmd.payload
    info = await api.call("application.info", {"applicationId": p["application_id"]})
    stage = info.get("currentInterviewStage") or {}
    plan_id = stage.get("interviewPlanId")
    archived: set[str] = set()
    if cmd.event_type == "ArchiveApplication" and plan_id:
        archived = archived_stages(await api.call("interviewStage.list", {"interviewPlanId": plan_id}) or [])
    step = classify(cmd.event_type, p, stage.get("id"), info.get("status"), archived)
    if step.action != "call":
        return step.action, step.reason, {"current_stage_id": stage.get("id")}
    if dry_run:
        return "skipped", "dry run: no change made in Ashby", {}
    if cmd.event_type == "AdvanceApplication":
        body = {"applicationId": p["application_id"], "interviewStageId": p["to_stage_id"]}
    elif cmd.event_type == "ArchiveApplication":
        if not archived:
            raise PermanentError(f"interview plan {plan_id} has no Archived stage")
        body = {"applicationId": p["application_id"], "interviewStageId": sorted(archived)[0],
                "archiveReasonId": p["archive_reason_id"]}
        if p.get("archive_email_template_id"):
            body["archiveEmail"] = {"communicationTemplateId": p["archive_email_template_id"]}
    else:
        raise PermanentError(f"the executor does not carry out {cmd.event_type}")
    await api.call("application.changeStage", body)
    return "succeeded", None, {"to_stage_id": body["interviewStageId"]}

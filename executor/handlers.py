"""Carrying out Ashby commands: a renewed lease per command, a read before any write, one write
per attempt, and every attempt, lost answer and reconciliation recorded as an event.

Network calls happen between short transactions. A write whose outcome is unknown is never sent
again until a later attempt's read shows it did not happen (see docs/architecture.md). Transient
failures raise (the runtime NAKs with a delay); permanent ones mark the inbox failed and raise, so
the runtime dead-letters the command; its dead-letter hook records `CommandFailed` and alerts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import structlog

from contracts.consumers import Delivered
from contracts.envelope import Envelope
from contracts.errors import OutcomeUnknown, PermanentError, TransientError, Waiting
from contracts.ids import derive_id
from contracts.outcomes import outcome_event
from executor import store
from executor.lease import LeaseKeeper, LeaseLost
from executor.plan import GONE_REASON, LeaseTimes, Step, archived_stages, classify, is_gone

log = structlog.get_logger(__name__)
DURABLE = "executor-ashby-v1"


class AshbyCalls(Protocol):
    async def call(self, endpoint: str, body: dict[str, Any]) -> Any: ...


class Publisher(Protocol):
    async def publish_event(self, envelope: Envelope) -> tuple[int, bool]: ...
    async def publish(self, subject: str, envelope: Envelope) -> tuple[int, bool]: ...


class CommandBusy(Waiting):
    """Another holder has this command's lease (or a lost write is still settling): this delivery
    waits, without spending a delivery, and tries again once the lease may have ended."""

    def __init__(self, command_id: str, retry_after: float) -> None:
        super().__init__(f"command {command_id} is leased for {retry_after:.1f}s more", retry_after=retry_after)


class OutcomeSettling(TransientError):
    """This attempt's write may have landed: the command is retried (a read first) once the settle
    time has passed. A failed attempt, so it counts toward CONSUMER_MAX_DELIVER."""

    def __init__(self, command_id: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"command {command_id}: outcome unknown, read again in {retry_after:.1f}s")


@dataclass
class Attempt:
    """One attempt under a lease: what it has done so far decides how it may be released."""

    cmd: Envelope
    number: int
    replica: str
    reconcile_first: str | None
    write_sent: bool = False

    def event(self, kind: str, now: datetime, **payload: Any) -> Envelope:
        p = self.cmd.payload
        body = {"command_id": p["command_id"], "command_type": self.cmd.event_type,
                "application_id": p.get("application_id"), "attempt": self.number, "replica": self.replica,
                **payload}
        return Envelope(event_id=derive_id("attempt", p["command_id"], kind, str(self.number)), event_type=kind,
                        key=self.cmd.key, occurred_at=now, recorded_at=now, correlation_id=self.cmd.correlation_id,
                        causation_id=self.cmd.event_id, source="executor", payload=body)


def command_handler(api: AshbyCalls, publisher: Publisher, *, replica: str, times: LeaseTimes,
                    dry_run: bool = False,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Callable[..., Awaitable[None]]:
    async def execute(pool: asyncpg.Pool, d: Delivered) -> None:
        cmd = d.envelope
        command_id, app_id = cmd.payload["command_id"], cmd.payload["application_id"]
        keeper = LeaseKeeper(pool, command_id, replica, times)
        async with pool.acquire() as conn:
            if d.retried:  # `autoadvance dlq retry`: a failed command runs again
                await store.reopen(conn, command_id)
            lease = await store.acquire(conn, command_id, cmd.event_type, app_id, replica, times.ttl_s,
                                        times.takeover_s)
        if lease.kind == "done":
            log.info("command_already_done", command_id=command_id, status=lease.status)
            return
        if lease.kind == "busy":
            log.info("command_lease_busy", command_id=command_id, status=lease.status,
                     retry_after_s=round(lease.remaining_s, 2))
            raise CommandBusy(command_id, max(0.1, lease.remaining_s))
        attempt = Attempt(cmd, lease.attempt, replica, lease.reconcile_first)
        await publisher.publish_event(attempt.event("CommandAttempted", clock(), reconcile_first=lease.reconcile_first))
        try:
            outcome, reason, details = await keeper.run(
                _carry_out(api, publisher, attempt, keeper.renew, dry_run, clock))
        except PermanentError as exc:
            await _record_failure(pool, attempt, exc)
            raise
        except BaseException as exc:
            await _release_after(pool, publisher, attempt, exc, times, clock)
            raise
        kind = {"succeeded": "CommandSucceeded", "skipped": "CommandSkipped"}[outcome]
        await publisher.publish_event(outcome_event(kind, cmd, "executor", clock(), reason=reason, details=details))
        async with pool.acquire() as conn:
            await store.release(conn, command_id, replica, outcome, reason)
        log.info("command_" + outcome, command_id=command_id, key=app_id, command_type=cmd.event_type,
                 attempt=attempt.number)

    return execute


async def _release_after(pool: asyncpg.Pool, publisher: Publisher, attempt: Attempt, exc: BaseException,
                         times: LeaseTimes, clock: Callable[[], datetime]) -> None:
    """Hand the command back after a transient failure (or a shutdown). A write that may have landed
    leaves it `unknown` and keeps the lease for the settle time, so no read can call it absent
    before it could land; otherwise it is `pending` again (still `unknown` if this attempt had to
    reconcile and did not get that far)."""
    command_id = attempt.cmd.payload["command_id"]
    reason = f"{type(exc).__name__}: {exc}"[:500]
    # A transient error from the write itself means it provably was not applied (refused, 429); an
    # unknown outcome, a lost lease, a cancellation or anything unexpected mid-write may have landed.
    landed = attempt.write_sent and (isinstance(exc, OutcomeUnknown | LeaseLost)
                                     or not isinstance(exc, TransientError))
    if landed:
        async with pool.acquire() as conn:
            await store.release(conn, command_id, attempt.replica, "unknown", reason, hold_s=times.settle_s)
        if isinstance(exc, OutcomeUnknown):
            await publisher.publish_event(attempt.event(
                "CommandOutcomeUnknown", clock(), endpoint=getattr(exc, "endpoint", "application.changeStage"),
                reason=str(getattr(exc, "reason", reason))[:300]))
        log.warning("command_outcome_unknown", command_id=command_id, attempt=attempt.number, error=reason[:200])
        if isinstance(exc, Exception):
            raise OutcomeSettling(command_id, times.settle_s) from exc
        return
    status = "unknown" if attempt.reconcile_first else "pending"
    async with pool.acquire() as conn:
        await store.release(conn, command_id, attempt.replica, status, reason)


async def _record_failure(pool: asyncpg.Pool, attempt: Attempt, exc: BaseException) -> None:
    """A permanent failure: the inbox row. The runtime then dead-letters the command, and the
    dead-letter hook (executor/dead_letters.py) records `CommandFailed` and alerts the admins, as
    for a command whose retries were spent."""
    cmd = attempt.cmd
    command_id, app_id = cmd.payload["command_id"], cmd.payload["application_id"]
    reason = f"{type(exc).__name__}: {exc}"[:500]
    async with pool.acquire() as conn:
        await store.release(conn, command_id, attempt.replica, "failed", reason)
    log.error("command_failed", command_id=command_id, key=app_id, error=reason[:200])


async def _carry_out(api: AshbyCalls, publisher: Publisher, attempt: Attempt,
                     still_ours: Callable[[], Awaitable[None]], dry_run: bool,
                     clock: Callable[[], datetime]) -> tuple[str, str | None, dict[str, Any]]:
    """Read, decide, and write at most once. `still_ours` renews the lease right before the write
    (raising LeaseLost if it is not ours), so no write starts under a lease that has ended."""
    cmd = attempt.cmd
    p = cmd.payload
    try:
        info = await api.call("application.info", {"applicationId": p["application_id"]})
    except PermanentError as exc:  # merged away or deleted: there is nothing to write to
        if not is_gone(getattr(exc, "code", None)):
            raise
        if attempt.reconcile_first:
            await _reconciled(publisher, attempt, Step("skipped", GONE_REASON), None, None, None, clock())
        return "skipped", GONE_REASON, {}
    stage = info.get("currentInterviewStage") or {}
    plan_id = stage.get("interviewPlanId")
    archived: set[str] = set()
    if cmd.event_type == "ArchiveApplication" and plan_id:
        archived = archived_stages(await api.call("interviewStage.list", {"interviewPlanId": plan_id}) or [])
    reason_id = (info.get("archiveReason") or {}).get("id")
    step = classify(cmd.event_type, p, stage.get("id"), info.get("status"), archived, reason_id,
                    (info.get("job") or {}).get("id"))
    if attempt.reconcile_first:
        await _reconciled(publisher, attempt, step, stage.get("id"), info.get("status"), reason_id, clock())
        attempt.reconcile_first = None
    if step.action != "call":
        return step.action, step.reason, {"current_stage_id": stage.get("id")}
    if dry_run:
        return "skipped", "dry run: no change made in Ashby", {}
    body = _write_body(cmd, archived, plan_id)
    await still_ours()
    attempt.write_sent = True
    await api.call("application.changeStage", body)
    return "succeeded", None, {"to_stage_id": body["interviewStageId"]}


async def _reconciled(publisher: Publisher, attempt: Attempt, step: Step, stage_id: str | None,
                      status: str | None, reason_id: str | None, now: datetime) -> None:
    await publisher.publish_event(attempt.event(
        "CommandReconciled", now, verdict=step.verdict, current_stage_id=stage_id, application_status=status,
        archive_reason_id=reason_id, reason=step.reason))
    log.info("command_reconciled", command_id=attempt.cmd.payload["command_id"], verdict=step.verdict,
             attempt=attempt.number)


def _write_body(cmd: Envelope, archived: set[str], plan_id: str | None) -> dict[str, Any]:
    p = cmd.payload
    if cmd.event_type == "AdvanceApplication":
        return {"applicationId": p["application_id"], "interviewStageId": p["to_stage_id"]}
    if cmd.event_type == "ArchiveApplication":
        if not archived:
            raise PermanentError(f"interview plan {plan_id} has no Archived stage")
        body: dict[str, Any] = {"applicationId": p["application_id"], "interviewStageId": sorted(archived)[0],
                                "archiveReasonId": p["archive_reason_id"]}
        if p.get("archive_email_template_id"):  # rides on the write: sent at most once with it
            body["archiveEmail"] = {"communicationTemplateId": p["archive_email_template_id"]}
        return body
    raise PermanentError(f"the executor does not carry out {cmd.event_type}")

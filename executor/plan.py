"""Pure executor logic: what to do with a command given where the application stands now, what a
read after an unknown outcome means, and how long a lease must last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Verdict = Literal["applied", "not_applied", "moved"]


@dataclass(frozen=True, slots=True)
class Step:
    action: Literal["call", "succeeded", "skipped"]
    reason: str | None = None

    @property
    def verdict(self) -> Verdict:
        """The same step read as a reconciliation: done already, safe to send, or moved by someone."""
        return {"succeeded": "applied", "call": "not_applied", "skipped": "moved"}[self.action]  # type: ignore[return-value]


GONE_CODES = frozenset({"application_not_found", "not_found", "applicationnotfound"})
"""Ashby error codes saying the application does not exist (any more): merged away or deleted."""
GONE_REASON = ("application no longer exists in Ashby (merged into another application, or deleted); "
               "nothing was sent")


def is_gone(code: object) -> bool:
    return isinstance(code, str) and code.lower().replace("-", "_") in GONE_CODES


def classify(command_type: str, payload: dict[str, Any], current_stage_id: str | None,
             application_status: str | None, archived_stage_ids: set[str],
             archive_reason_id: str | None = None, current_job_id: str | None = None) -> Step:
    """The stale-decision guard: act only if the application is still where the decision saw it.

    An application already at the target (our earlier call landed before a crash or a lost answer)
    counts as done; archived with another reason means someone else archived it, so it is skipped.
    """
    from_stage = payload.get("from_stage_id")
    decided_for = payload.get("job_id")
    if decided_for and current_job_id and decided_for != current_job_id:
        return Step("skipped", f"application moved to job {current_job_id} (the decision was for job {decided_for})")
    if command_type == "AdvanceApplication" and current_stage_id == payload.get("to_stage_id"):
        return Step("succeeded", "already in the target stage")
    if command_type == "ArchiveApplication" and (current_stage_id in archived_stage_ids
                                                 or application_status == "Archived"):
        wanted = payload.get("archive_reason_id")
        if current_stage_id in archived_stage_ids and archive_reason_id in (None, wanted):
            return Step("succeeded", "already archived")
        return Step("skipped", f"already archived (reason {archive_reason_id}, not {wanted})")
    if application_status in ("Archived", "Hired"):
        return Step("skipped", f"application is {application_status}")
    if current_stage_id != from_stage:
        return Step("skipped", f"application left stage {from_stage} (now in {current_stage_id})")
    return Step("call")


def archived_stages(stages: list[dict[str, Any]]) -> set[str]:
    return {str(s["id"]) for s in stages if s.get("type") == "Archived" and s.get("id")}


@dataclass(frozen=True, slots=True)
class LeaseTimes:
    """How long a command's lease lasts and what follows a lost holder or a lost answer.

    The holder renews its lease every `renew_s` (a third of `ttl_s`) while it works, so a dead
    holder's lease ends within one TTL, however long a call may legitimately wait. `settle_s` is
    how long a lost write is given to land before a read may call it absent; a lease left `started`
    by a dead holder is taken over only `takeover_s` after it expired (the write it may have sent
    just before: its own timeout plus the settle time).
    """

    ttl_s: float
    timeout_s: float
    settle_s: float

    @property
    def renew_s(self) -> float:
        return self.ttl_s / 3

    @property
    def takeover_s(self) -> float:
        return self.timeout_s + self.settle_s


def lease_times(ttl_s: float, timeout_s: float) -> LeaseTimes:
    return LeaseTimes(ttl_s=ttl_s, timeout_s=timeout_s, settle_s=2 * timeout_s)

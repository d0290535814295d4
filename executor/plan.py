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


def classify(command_type: str, payload: dict[str, Any], current_stage_id: str | None,
             application_status: str | None, archived_stage_ids: set[str],
             archive_reason_id: str | None = None) -> Step:
    """The stale-decision guard: act only if the application is still where the decision saw it.

    An application already at the target (our earlier call landed before a crash or a lost answer)
    counts as done; archived with another reason means someone else archived it, so it is skipped.
    """
    from_stage = payload.get("from_stage_id")
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
    """How long one attempt may hold a command, from the Ashby client's own bounds.

    `call_s` is the longest one client call can take (every try timing out plus the longest waits);
    an attempt makes at most `READS` reads and one write, so a lease of `lease_s` outlives any live
    attempt. `settle_s` is how long a lost write is given to land before a read may call it absent.
    """

    call_s: float
    settle_s: float

    READS = 2  # application.info, interviewStage.list

    @property
    def lease_s(self) -> float:
        return (self.READS + 1) * self.call_s + self.settle_s

    def may_write(self, held_for_s: float) -> bool:
        """A write may start only if the lease outlives it and the settle time after it."""
        return held_for_s + self.call_s + self.settle_s <= self.lease_s


def lease_times(timeout_s: float, max_retries: int, backoff_max_s: float, retry_after_max_s: float) -> LeaseTimes:
    call_s = (max_retries + 1) * timeout_s + max_retries * max(backoff_max_s, retry_after_max_s)
    return LeaseTimes(call_s=call_s, settle_s=2 * timeout_s)

"""Pure executor logic: what to do with a command given where the application stands now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Step:
    action: Literal["call", "succeeded", "skipped"]
    reason: str | None = None


def classify(command_type: str, payload: dict[str, Any], current_stage_id: str | None,
             application_status: str | None, archived_stage_ids: set[str]) -> Step:
    """The stale-decision guard: act only if the application is still where the decision saw it.

    An application already at the target (our earlier call landed before a crash) counts as done.
    """
    from_stage = payload.get("from_stage_id")
    if command_type == "AdvanceApplication" and current_stage_id == payload.get("to_stage_id"):
        return Step("succeeded", "already in the target stage")
    if command_type == "ArchiveApplication" and (current_stage_id in archived_stage_ids
                                                 or application_status == "Archived"):
        return Step("succeeded" if current_stage_id in archived_stage_ids else "skipped", "already archived")
    if application_status in ("Archived", "Hired"):
        return Step("skipped", f"application is {application_status}")
    if current_stage_id != from_stage:
        return Step("skipped", f"application left stage {from_stage} (now in {current_stage_id})")
    return Step("call")


def archived_stages(stages: list[dict[str, Any]]) -> set[str]:
    return {str(s["id"]) for s in stages if s.get("type") == "Archived" and s.get("id")}

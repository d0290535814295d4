"""Candidate merges (issue 21): after Ashby's `candidateMerge`, where each application of the
merged-away candidate went. Ashby's webhook names only the two candidates, so the poller reads
`candidate.info` (the survivor's applications) and `application.info` of each old application;
`merged_applications` (pure) turns what it read into `ApplicationMerged` events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.envelope import Envelope
from contracts.events import ApplicationMerged
from contracts.ids import derive_id

GONE_CODES = frozenset({"application_not_found", "not_found", "applicationnotfound"})
"""Ashby error codes saying an application does not exist (any more)."""


def is_gone(code: str | None) -> bool:
    return (code or "").lower().replace("-", "_") in GONE_CODES


def merged_applications(merge_event_id: str, deleted: str, merged: str, old: list[tuple[str, str | None]],
                        still_there: dict[str, dict[str, Any] | None], survivors: dict[str, dict[str, Any]],
                        now: datetime) -> list[Envelope]:
    """One `ApplicationMerged` per old application: gone and continued by the survivor's application
    for the same job (None if the survivor has none), or kept under the merged candidate."""
    by_job: dict[str, str] = {}
    for app_id, info in sorted(survivors.items()):
        job = (info.get("job") or {}).get("id")
        if job and job not in by_job:
            by_job[str(job)] = app_id
    out = []
    for app_id, job in old:
        if still_there.get(app_id) is not None:
            surviving: str | None = app_id
            reason = f"candidate {deleted} was merged into {merged}; application {app_id} was kept"
        else:
            surviving = by_job.get(job or "")
            reason = (f"candidate {deleted} was merged into {merged}; application {app_id} no longer exists in "
                      + (f"Ashby, application {surviving} continues it" if surviving
                         else "Ashby and no application of the merged candidate continues it"))
        payload = ApplicationMerged(application_id=app_id, surviving_application_id=surviving,
                                    deleted_candidate_id=deleted, merged_candidate_id=merged, job_id=job,
                                    reason=reason)
        out.append(Envelope(event_id=derive_id("application-merged", merge_event_id, app_id),
                            event_type="ApplicationMerged", key=app_id, occurred_at=now, recorded_at=now,
                            correlation_id=merge_event_id, causation_id=merge_event_id, source="ashby",
                            payload=payload.model_dump()))
    return out

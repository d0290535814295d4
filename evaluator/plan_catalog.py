"""The catalog the rules need from Ashby's metadata: interview plans with their ordered stages (to
find the next stage and the Archived one) and archive reasons. Folded newest-wins, so it does not
depend on the order the sync events arrive in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from contracts.envelope import EventRecord, as_utc

Stamp = tuple[datetime, str]
"""(when the fact was true by its source, event id): the newest-wins order, ties broken by id."""


def stamp(event: EventRecord, at: datetime | None = None) -> Stamp:
    return (as_utc(at or event.occurred_at), event.event_id)


@dataclass(frozen=True, slots=True)
class Stage:
    id: str
    title: str | None
    type: str | None
    order: float
    plan_id: str


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    title: str | None = None
    stages: tuple[Stage, ...] = ()
    title_stamp: Stamp | None = None
    stages_stamp: Stamp | None = None

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def next_stage(self, stage_id: str) -> Stage | None:
        """The first stage after this one by `orderInInterviewPlan`, never an Archived-type stage."""
        current = self.stage(stage_id)
        if current is None:
            return None
        later = [s for s in self.stages if s.order > current.order and s.type != "Archived"]
        return min(later, key=lambda s: (s.order, s.id), default=None)

    def archived_stage_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages if s.type == "Archived")


@dataclass(frozen=True, slots=True)
class ArchiveReason:
    id: str
    text: str | None
    reason_type: str | None
    is_archived: bool
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Catalog:
    plans: Mapping[str, Plan] = field(default_factory=dict)
    archive_reasons: Mapping[str, ArchiveReason] = field(default_factory=dict)

    def plan(self, plan_id: str | None) -> Plan | None:
        return self.plans.get(plan_id) if plan_id else None


CATALOG_EVENT_TYPES = frozenset({"InterviewPlanSynced", "ArchiveReasonSynced"})


def evolve_catalog(catalog: Catalog, event: EventRecord) -> Catalog:
    """Fold one metadata event; anything else (and an older copy of a record) changes nothing."""
    if event.event_type == "InterviewPlanSynced":
        return _plan_synced(catalog, event)
    if event.event_type == "ArchiveReasonSynced":
        return _archive_reason_synced(catalog, event)
    return catalog


def _plan_synced(catalog: Catalog, event: EventRecord) -> Catalog:
    data: dict[str, Any] = event.payload.get("data") or {}
    plan_id = str(data.get("id") or event.payload.get("record_id") or "")
    if not plan_id:
        return catalog
    at = stamp(event)
    plan = catalog.plans.get(plan_id) or Plan(plan_id)
    updated = plan
    if plan.title_stamp is None or at > plan.title_stamp:
        updated = replace(updated, title=data.get("title"), title_stamp=at)
    raw_stages = data.get("stages")
    if isinstance(raw_stages, list) and (plan.stages_stamp is None or at > plan.stages_stamp):
        stages = tuple(sorted((_stage(s, plan_id) for s in raw_stages if isinstance(s, dict) and s.get("id")),
                              key=lambda s: (s.order, s.id)))
        updated = replace(updated, stages=stages, stages_stamp=at)
    if updated == plan:
        return catalog
    return replace(catalog, plans={**catalog.plans, plan_id: updated})


def _stage(raw: dict[str, Any], plan_id: str) -> Stage:
    try:
        order = float(raw.get("orderInInterviewPlan"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        order = float("inf")
    return Stage(str(raw["id"]), raw.get("title"), raw.get("type"), order, str(raw.get("interviewPlanId") or plan_id))


def _archive_reason_synced(catalog: Catalog, event: EventRecord) -> Catalog:
    data: dict[str, Any] = event.payload.get("data") or {}
    reason_id = str(data.get("id") or event.payload.get("record_id") or "")
    at = stamp(event)
    known = catalog.archive_reasons.get(reason_id)
    if not reason_id or (known is not None and known.stamp >= at):
        return catalog
    reason = ArchiveReason(reason_id, data.get("text"), data.get("reasonType"), bool(data.get("isArchived")), at)
    return replace(catalog, archive_reasons={**catalog.archive_reasons, reason_id: reason})

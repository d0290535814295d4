"""Everything the evaluator folds, in one value, for replay and tests: the catalog, every
application's state and the activated rule sets. `fold` routes an event to the right `evolve`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from contracts.envelope import EventRecord
from evaluator.application_state import APPLICATION_EVENT_TYPES, AppState, evolve
from evaluator.plan_catalog import CATALOG_EVENT_TYPES, Catalog, Stamp, evolve_catalog, stamp
from evaluator.rules import RuleSet, versioned


@dataclass(frozen=True, slots=True)
class Activation:
    rule_set: RuleSet
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class World:
    catalog: Catalog = field(default_factory=Catalog)
    apps: Mapping[str, AppState] = field(default_factory=dict)
    activations: Mapping[int, Activation] = field(default_factory=dict)

    def app(self, application_id: str) -> AppState:
        return self.apps.get(application_id) or AppState(application_id)

    def rules(self) -> RuleSet | None:
        """The rule set live now: the most recent activation."""
        latest = max(self.activations.values(), key=lambda a: a.stamp, default=None)
        return latest.rule_set if latest else None


def application_of(event: EventRecord) -> str:
    """The application an event is about: its payload says so, else the envelope key."""
    p = event.payload
    schedule = p.get("schedule")
    found = p.get("application_id") or (schedule.get("applicationId") if isinstance(schedule, dict) else None)
    return str(found or event.key)


def fold(world: World, event: EventRecord) -> World:
    if event.event_type in CATALOG_EVENT_TYPES:
        catalog = evolve_catalog(world.catalog, event)
        return world if catalog is world.catalog else replace(world, catalog=catalog)
    if event.event_type == "RuleSetActivated":
        return _activated(world, event)
    if event.event_type in APPLICATION_EVENT_TYPES:
        app_id = application_of(event)
        before = world.app(app_id)
        after = evolve(before, event)
        return world if after is before else replace(world, apps={**world.apps, app_id: after})
    return world


def _activated(world: World, event: EventRecord) -> World:
    """An activation of an invalid document is ignored (the operator API validates before activating)."""
    try:
        version = int(event.payload["version"])
        rule_set = versioned(event.payload.get("document") or {}, version)
    except (KeyError, TypeError, ValueError, ValidationError):
        return world
    at = stamp(event)
    known = world.activations.get(version)
    if known is not None and known.stamp <= at:
        return world
    return replace(world, activations={**world.activations, version: Activation(rule_set, at)})

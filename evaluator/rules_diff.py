"""Pure views of rule-set documents for operators: the semantic difference between two versions
(rules added, removed, changed field by field) and the line of a YAML/JSON text that a validation
problem's location (`rules[0].requirements[1].threshold`) points at."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class RuleChange:
    rule_id: str
    kind: str  # added | removed | changed
    fields: tuple[FieldChange, ...] = ()
    mode_before: str | None = None
    mode_after: str | None = None


@dataclass(frozen=True, slots=True)
class RuleSetDiff:
    settings: tuple[FieldChange, ...] = ()
    rules: tuple[RuleChange, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.settings and not self.rules

    def summary(self) -> str:
        counts = {k: sum(1 for r in self.rules if r.kind == k) for k in ("added", "removed", "changed")}
        parts = [f"{n} rule{'s' if n != 1 else ''} {k}" for k, n in counts.items() if n]
        if self.settings:
            parts.append(f"{len(self.settings)} setting{'s' if len(self.settings) != 1 else ''} changed")
        return ", ".join(parts) or "no changes"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a document by path; lists of mappings are indexed, lists of scalars are leaves."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        out = {}
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{i}]"))
        return out or {prefix: []}
    return {prefix: value}


def _field_changes(before: Any, after: Any) -> tuple[FieldChange, ...]:
    a, b = _flatten(before), _flatten(after)
    return tuple(FieldChange(p, a.get(p), b.get(p)) for p in sorted(a.keys() | b.keys()) if a.get(p) != b.get(p))


def _rules(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(r.get("id")): r for r in doc.get("rules") or [] if isinstance(r, dict)}


def diff_rule_sets(before: dict[str, Any] | None, after: dict[str, Any]) -> RuleSetDiff:
    """Rules are matched by id (their order does not matter); everything else is a setting."""
    before = before or {}
    settings = _field_changes({k: v for k, v in before.items() if k != "rules"},
                              {k: v for k, v in after.items() if k != "rules"})
    old, new = _rules(before), _rules(after)
    changes: list[RuleChange] = []
    for rule_id in [*old.keys(), *(k for k in new if k not in old)]:
        a, b = old.get(rule_id), new.get(rule_id)
        if a is None and b is not None:
            changes.append(RuleChange(rule_id, "added", mode_after=b.get("mode", "live")))
        elif b is None and a is not None:
            changes.append(RuleChange(rule_id, "removed", mode_before=a.get("mode", "live")))
        elif a is not None and b is not None and a != b:
            changes.append(RuleChange(rule_id, "changed", _field_changes(a, b), a.get("mode", "live"),
                                      b.get("mode", "live")))
    return RuleSetDiff(settings, tuple(changes))


def _path(location: str) -> list[str | int]:
    return [int(index) if index else name for name, index in _PART.findall(location)]


def line_of(text: str, location: str) -> int | None:
    """1-based line of the node at `location` (or of its nearest existing parent); None when the text
    does not parse or the location is the whole document."""
    try:
        node: Any = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return mark.line + 1 if mark is not None else None
    if node is None or location in ("", "document", "body"):
        return None
    line: int | None = None
    for part in _path(location):
        child: Any = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, child = key.start_mark.line + 1, value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line

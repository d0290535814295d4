"""How an Ashby feedback value meets a rule threshold: coercion of what Ashby sends, the operators,
and the aggregates over several interviewers' values. Never raises on odd input: an unreadable
value is a failed check with a reason."""

from __future__ import annotations

import operator as op
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.fast_init import quick_init

Scalar = float | int | bool | str
ORDERING = {">=": op.ge, ">": op.gt, "<=": op.le, "<": op.lt}
OPERATORS = (">=", ">", "<=", "<", "==", "!=", "in")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A value that is neither a number, a boolean, a string, a score/select object nor a list of those."""

    why: str


# isinstance with tuples: `int | float` there builds a union object on every call (a hot path)
_PLAIN = (bool, int, float)
_NUMERIC = (int, float)
_SEQUENCE = (list, tuple)
_NOT_SCALAR = (Unreadable, tuple)


@quick_init
@dataclass(frozen=True, slots=True)
class Check:
    passed: bool
    reason: str | None = None


def is_missing(raw: Any) -> bool:
    """No answer: absent, null, blank, or a score/select object holding nothing."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return True
    if isinstance(raw, dict):
        for key in ("score", "value"):
            if key in raw:
                return is_missing(raw[key])
    return False


def normalize(raw: Any) -> Scalar | tuple[Scalar, ...] | Unreadable:
    """Ashby's shapes to plain values: `{"score": 3}` → 3, `{"value": "yes", "label": ...}` → "yes",
    multi-selects → a tuple, strings stripped. Numbers and booleans in strings stay strings here;
    the comparison decides how to read them against its threshold."""
    if isinstance(raw, _PLAIN):
        return raw
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, dict):
        for key in ("score", "value"):
            if key in raw:
                inner = normalize(raw[key])
                return inner if not isinstance(inner, tuple) else Unreadable(f"nested list in '{key}'")
        return Unreadable("an object without 'score' or 'value'")
    if isinstance(raw, _SEQUENCE):
        items = [normalize(item) for item in raw]
        if any(isinstance(i, _NOT_SCALAR) for i in items):
            return Unreadable("a list holding something other than plain values")
        return tuple(items)  # type: ignore[arg-type]
    return Unreadable(f"a value of type {type(raw).__name__}")


def as_number(value: Any) -> float | None:
    """A number from a number or a numeric string; booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, _NUMERIC):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def as_bool(value: Any) -> bool | None:
    """A boolean from a boolean or "true"/"false" in any case (so `true == "true"` holds)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def equals(value: Scalar, threshold: Scalar) -> bool | None:
    """Equality read through the threshold's type; None when the value cannot be read that way.

    Strings compare without regard to case; a numeric (or true/false) string threshold compares
    numerically (or as a boolean) with values readable that way.
    """
    if isinstance(threshold, bool):
        b = as_bool(value)
        return None if b is None else b == threshold
    if isinstance(threshold, _NUMERIC):
        n = as_number(value)
        return None if n is None else n == float(threshold)
    t_num, v_num = as_number(threshold), as_number(value)
    if t_num is not None and v_num is not None:
        return t_num == v_num
    t_bool, v_bool = as_bool(threshold), as_bool(value)
    if t_bool is not None and v_bool is not None:
        return t_bool == v_bool
    return isinstance(value, str) and value.casefold() == str(threshold).casefold()


def check(raw: Any, operator: str, threshold: Any) -> Check:
    """One value against one threshold."""
    value = normalize(raw)
    if isinstance(value, Unreadable):
        return Check(False, f"cannot read {raw!r}: {value.why}")
    if operator in ORDERING:
        if isinstance(value, tuple):
            return Check(False, f"a multi-select value cannot be compared with {operator}")
        number = as_number(value)
        if number is None:
            return Check(False, f"{raw!r} is not a number")
        passed = ORDERING[operator](number, float(threshold))
        return Check(passed, None if passed else f"{_show(number)} {operator} {threshold} is false")
    if operator in ("==", "!="):
        same = _same(value, threshold)
        if same is None:
            return Check(False, f"{raw!r} cannot be compared with {threshold!r}")
        passed = same if operator == "==" else not same
        return Check(passed, None if passed else f"{raw!r} {operator} {threshold!r} is false")
    if operator == "in":
        options = list(threshold)
        chosen = value if isinstance(value, tuple) else (value,)
        outside = [v for v in chosen if not any(equals(v, t) for t in options)]
        if outside:
            return Check(False, f"{', '.join(repr(v) for v in outside)} not in {options!r}")
        return Check(True)
    return Check(False, f"unknown operator {operator!r}")


def _same(value: Scalar | tuple[Scalar, ...], threshold: Any) -> bool | None:
    if isinstance(threshold, _SEQUENCE):
        chosen = value if isinstance(value, tuple) else (value,)
        return (all(any(equals(v, t) for t in threshold) for v in chosen)
                and all(any(equals(v, t) for v in chosen) for t in threshold))
    if isinstance(value, tuple):
        return equals(value[0], threshold) if len(value) == 1 else None
    return equals(value, threshold)


@quick_init
@dataclass(frozen=True, slots=True)
class Aggregated:
    passed: bool
    checks: tuple[Check, ...]
    reasons: tuple[str, ...]
    average: float | None = None


def aggregate(raws: Sequence[Any], operator: str, threshold: Any, how: str) -> Aggregated:
    """Several interviewers' values for one requirement: `all` (the seed app's meaning: every
    submitted value passes), `any` (at least one), or `average` (the mean, numbers only)."""
    checks = tuple(check(raw, operator, threshold) for raw in raws)
    if how == "average":
        numbers = [as_number(v) if not isinstance(v, _NOT_SCALAR) else None
                   for v in (normalize(raw) for raw in raws)]
        if not numbers or any(n is None for n in numbers):
            bad = [repr(raw) for raw, n in zip(raws, numbers, strict=True) if n is None]
            return Aggregated(False, checks, (f"cannot average non-numbers: {', '.join(bad) or 'no values'}",))
        mean = sum(numbers) / len(numbers)  # type: ignore[arg-type]
        one = check(mean, operator, threshold)
        reasons: tuple[str, ...] = () if one.passed else (f"average {_show(mean)} {operator} {threshold} is false",)
        return Aggregated(one.passed, checks, reasons, mean)
    reasons = tuple(c.reason for c in checks if c.reason)
    passed = all(c.passed for c in checks) if how == "all" else any(c.passed for c in checks)
    return Aggregated(bool(checks) and passed, checks, () if passed else reasons)


def _show(number: float) -> str:
    return str(int(number)) if number == int(number) else f"{number:g}"

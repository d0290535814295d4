"""Converting rules of the seed app (ashby-auto-advance) into our rule documents.

Accepts both the seed's stored shape (`field_path`, `threshold`, `min_wait_minutes`, ...) and its
admin-API shape (`score_field_path`, `threshold_value`, `actions`). Unknown operators and
unconvertible thresholds are carried over unchanged, so validation reports them instead of the
silent failure the seed app had.
"""

from __future__ import annotations

from typing import Any

from evaluator.value_comparison import as_bool, as_number


def convert_threshold(threshold: Any, operator: str) -> Any:
    """The seed stored every threshold as a string; ours are typed ("3" → 3, "true" → true)."""
    if not isinstance(threshold, str):
        return threshold
    if operator == "in":
        return [convert_threshold(part.strip(), "==") for part in threshold.split(",") if part.strip()]
    number = as_number(threshold)
    if number is not None:
        return int(number) if number.is_integer() else number
    flag = as_bool(threshold)
    if flag is not None and operator in ("==", "!="):
        return flag
    return threshold


def _requirement(seed: dict[str, Any]) -> dict[str, Any]:
    operator = str(seed.get("operator", ">="))
    raw = seed.get("threshold", seed.get("threshold_value"))
    return {
        "interview_id": seed.get("interview_id"),
        "field": seed.get("field_path", seed.get("score_field_path")),
        "operator": operator,
        "threshold": convert_threshold(raw, operator),
        "required": bool(seed.get("is_required", True)),
        "aggregate": "all",
    }


def seed_rule_id(seed: dict[str, Any]) -> str:
    given = seed.get("rule_id") or seed.get("id")
    if given:
        return f"seed-{given}"
    return "seed-" + "-".join(str(seed.get(k) or "any") for k in ("interview_plan_id", "interview_stage_id", "job_id"))


def convert_seed_rule(seed: dict[str, Any], *, default_archive_reason_id: str | None = None) -> dict[str, Any]:
    """One seed rule as one of our rule dicts. `default_archive_reason_id` stands in for the seed's
    DEFAULT_ARCHIVE_REASON_ID setting when the rule names none.

    The seed always sent a rejection proposal on failure (`reject_on_fail`, default true); with it
    off, a failing candidate just stays where they are (`on_fail: nothing`).
    """
    rule: dict[str, Any] = {
        "id": seed_rule_id(seed),
        "interview_plan_id": seed.get("interview_plan_id"),
        "stage_id": seed.get("interview_stage_id", seed.get("stage_id")),
    }
    if seed.get("job_id"):
        rule["job_id"] = seed["job_id"]
    if seed.get("name") or seed.get("description"):
        rule["description"] = str(seed.get("description") or seed.get("name"))
    rule["requirements"] = [_requirement(r) for r in seed.get("requirements") or []]
    rule["on_pass"] = {"action": "advance", "target_stage_id": seed.get("target_stage_id")}
    reason = seed.get("archive_reason_id") or default_archive_reason_id
    if seed.get("reject_on_fail", True):
        rule["on_fail"] = {"action": "propose_rejection", "archive_reason_id": reason}
    else:
        rule["on_fail"] = {"action": "nothing"}
    if seed.get("min_wait_minutes") is not None:
        rule["quiet_period"] = f"{int(seed['min_wait_minutes'])}m"
    if seed.get("timeout_days") is not None:
        rule["timeout"] = f"{int(seed['timeout_days'])}d"
    rule["on_timeout"] = "alert"
    rule["mode"] = "live"
    return rule


def convert_seed_rules(seeds: list[dict[str, Any]], *, name: str = "Converted from ashby-auto-advance",
                       dry_run: bool = False, default_archive_reason_id: str | None = None) -> dict[str, Any]:
    """A whole rule-set document from the seed's active rules (`is_active: false` ones are left out)."""
    return {
        "name": name,
        "description": "Rules converted from the seed app; review thresholds and archive reasons before activating.",
        "dry_run": dry_run,
        "defaults": {"quiet_period": "30m", "timeout": "7d"},
        "rules": [convert_seed_rule(s, default_archive_reason_id=default_archive_reason_id)
                  for s in seeds if s.get("is_active", True)],
    }

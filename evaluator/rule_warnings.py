"""Warnings about a valid rule set that only the synced interview plans can reveal: a rule on a
plan's last stage without `on_pass.target_stage_id` can never advance anyone (at run time the first
such case alerts the admins once; these warnings catch it before activation). Offline validation
cannot know the plan order, so the CLI, the API and the console ask the service
(`POST /api/rulesets/validate`, `POST /api/rulesets`, /ui/rules) and show the same warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from evaluator.rules import Problem


@dataclass(frozen=True, slots=True)
class PlanStage:
    stage_id: str
    plan_id: str
    title: str | None
    type: str | None
    order: float


async def synced_stages(conn: asyncpg.Connection) -> list[PlanStage]:
    """Every interview stage as the projectors' `interview_stages` read model has it."""
    rows = await conn.fetch("SELECT stage_id, interview_plan_id, title, type, order_in_plan FROM interview_stages")
    return [PlanStage(r["stage_id"], r["interview_plan_id"], r["title"], r["type"], float(r["order_in_plan"] or 0))
            for r in rows]


def plan_warnings(doc: dict[str, Any], stages: list[PlanStage]) -> list[Problem]:
    """One warning per rule that the synced plans show can never act, or cannot be checked."""
    by_plan: dict[str, list[PlanStage]] = {}
    for s in stages:
        by_plan.setdefault(s.plan_id, []).append(s)
    out: list[Problem] = []
    for i, rule in enumerate(doc.get("rules") or []):
        plan_id, stage_id = str(rule.get("interview_plan_id")), str(rule.get("stage_id"))
        target = (rule.get("on_pass") or {}).get("target_stage_id")
        plan = by_plan.get(plan_id)
        where = f"rules[{i}]"
        if plan is None:
            out.append(Problem(f"{where}.interview_plan_id", f"interview plan {plan_id} is not synced (yet): "
                                                              "whether the rule's stage has a next stage is not checked"))
            continue
        current = next((s for s in plan if s.stage_id == stage_id), None)
        if current is None:
            out.append(Problem(f"{where}.stage_id", f"stage {stage_id} is not a stage of interview plan {plan_id}: "
                                                     "the rule never matches"))
            continue
        if target is not None:
            if not any(s.stage_id == target for s in plan):
                out.append(Problem(f"{where}.on_pass.target_stage_id",
                                   f"stage {target} is not a stage of interview plan {plan_id}"))
            continue
        if not any(s.order > current.order and s.type != "Archived" for s in plan):
            title = f" ({current.title})" if current.title else ""
            out.append(Problem(f"{where}.on_pass.target_stage_id",
                               f"rule {rule.get('id')}: stage {stage_id}{title} is the last stage of interview plan "
                               f"{plan_id} and on_pass has no target_stage_id: the rule can never advance anyone"))
    return out


async def warnings_for(pool: asyncpg.Pool, doc: dict[str, Any]) -> list[dict[str, str]]:
    async with pool.acquire() as conn:
        stages = await synced_stages(conn)
    return [{"location": w.location, "message": w.message} for w in plan_warnings(doc, stages)]

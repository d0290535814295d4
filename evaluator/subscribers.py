"""The evaluator's durable consumer and its timer loop (wired by runtime)."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from contracts import subjects
from contracts.consumers import Subscription
from evaluator.live import DURABLE, Evaluator

log = structlog.get_logger(__name__)


def subscriptions(evaluator: Evaluator) -> list[Subscription]:
    return [Subscription(DURABLE, subjects.EVENTS_STREAM, subjects.EVENTS_ALL, evaluator.handle, role="evaluator")]


def timer_loop(evaluator: Evaluator, pool: asyncpg.Pool, interval_s: float = 0.25):
    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await evaluator.fire_timers(pool)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("timers_failed", error=type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), interval_s)
            except TimeoutError:
                pass

    return run

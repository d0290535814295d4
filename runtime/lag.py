"""Consumer lag, read from JetStream: per durable, the messages not yet acknowledged and how long
the oldest of them has waited (now minus its stream timestamp, the moment it was stored)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import nats.errors
import nats.js.errors
from nats.js.api import ConsumerInfo

from contracts import subjects

STREAMS = (subjects.EVENTS_STREAM, subjects.COMMANDS_STREAM)


async def oldest_waiting_at(js: Any, stream: str, info: ConsumerInfo) -> datetime | None:
    """When the oldest message the consumer has not acknowledged was stored; None if none waits.

    Everything up to the ack floor is acknowledged, so it is the first message after the floor
    that matches the consumer's filter (one look-up per filter subject, the earliest wins)."""
    if not (info.num_pending or 0) and not (info.num_ack_pending or 0):
        return None
    after = (info.ack_floor.stream_seq if info.ack_floor else 0) + 1
    config = info.config
    filters = list(config.filter_subjects or []) or [config.filter_subject or ">"]
    found: list[datetime] = []
    for subject in filters:
        try:
            msg = await js.get_msg(stream, seq=after, next=True, subject=subject)
        except nats.js.errors.NotFoundError:
            continue
        if msg.time is not None:
            found.append(msg.time)
    return min(found) if found else None


async def consumer_lag(js: Any, *, timeout_s: float = 2.0) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every durable of EVENTS and COMMANDS with its lag; and the streams that could not be read.

    `lag_messages` counts what is not acknowledged yet (waiting to be delivered, plus delivered
    and in progress); `lag_s` is 0 when nothing waits."""
    now = datetime.now(UTC)
    consumers: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for stream in STREAMS:
        try:
            async with asyncio.timeout(timeout_s):
                for info in await js.consumers_info(stream):
                    oldest = await oldest_waiting_at(js, stream, info)
                    pending, in_progress = info.num_pending or 0, info.num_ack_pending or 0
                    consumers[info.name] = {
                        "stream": stream, "pending": pending, "ack_pending": in_progress,
                        "redelivered": info.num_redelivered or 0,
                        "lag_messages": pending + in_progress,
                        "lag_s": round(max(0.0, (now - oldest).total_seconds()), 3) if oldest else 0.0,
                    }
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error):
            failed.append(stream)
    return consumers, failed


def lagging(consumers: dict[str, dict[str, Any]], max_lag_s: float) -> list[str]:
    """The consumers whose oldest waiting message has waited longer than `max_lag_s`."""
    return sorted(name for name, c in consumers.items() if c["lag_s"] > max_lag_s)

"""The Ashby request budget's counters of the processes that call Ashby, for the /health of the
process that serves HTTP (which does not call Ashby itself when the worker roles run elsewhere:
`autoadvance dev`'s child process, or `autoadvance worker` in production).

Each worker process puts its budget's `stats()` into the JetStream KV bucket `autoadvance_ashby_stats`
every few seconds under a key naming the process; a key not renewed expires with the bucket's max
age, so a stopped process drops out. /health shows them (runtime/http.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
import nats.js.errors
import orjson
import structlog

log = structlog.get_logger(__name__)

STATS_BUCKET = "autoadvance_ashby_stats"
EVERY_S = 2.0
MAX_AGE_S = 30.0


def process_key() -> str:
    """This process, as a KV key (host name and pid; KV keys allow `[-_=.a-zA-Z0-9]`)."""
    return re.sub(r"[^-_=.a-zA-Z0-9]", "_", f"{socket.gethostname()}.{os.getpid()}")


async def stats_bucket(js: Any, *, replicas: int = 1) -> Any:
    try:
        return await js.key_value(STATS_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        return await js.create_key_value(bucket=STATS_BUCKET, ttl=MAX_AGE_S, history=1, replicas=replicas)


def reporter(js: Any, stats: Callable[[], dict | None], *, replicas: int = 1
             ) -> Callable[[asyncio.Event], Awaitable[None]]:
    """A worker loop: put `stats()` (when this process has an Ashby client) every EVERY_S, until `stop`."""
    key = process_key()

    async def run(stop: asyncio.Event) -> None:
        kv = None
        while not stop.is_set():
            current = stats()
            if current is not None:
                try:
                    kv = kv or await stats_bucket(js, replicas=replicas)
                    await kv.put(key, orjson.dumps(current))
                except (nats.errors.Error, OSError) as exc:  # shown late, never blocking the work
                    log.warning("ashby_stats_not_reported", error=type(exc).__name__)
            try:
                await asyncio.wait_for(stop.wait(), EVERY_S)
            except TimeoutError:
                pass
        if kv is not None:
            try:
                await kv.delete(key)
            except (nats.errors.Error, OSError):
                pass

    return run


async def reported(js: Any) -> dict[str, dict]:
    """Every process's last report, by process key; {} when none (or none readable)."""
    try:
        kv = await js.key_value(STATS_BUCKET)
        keys = await kv.keys()
    except (nats.js.errors.BucketNotFoundError, nats.js.errors.NoKeysError):
        return {}
    except (nats.errors.Error, OSError) as exc:
        log.warning("ashby_stats_not_read", error=type(exc).__name__)
        return {}
    out: dict[str, dict] = {}
    for key in keys:
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            continue
        if entry.value:
            out[key] = orjson.loads(entry.value)
    return out


def for_health(local: dict | None, others: dict[str, dict]) -> dict | None:
    """/health's `ashby`: this process's own counters if it calls Ashby; else the one process that
    reported (as it would show them itself); with several, each under its key in `processes`."""
    if local is not None:
        return local
    if len(others) == 1:
        return next(iter(others.values()))
    return {"processes": others} if others else None

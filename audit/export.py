"""The records of an audit export, read from `event_log` (the log's copy in Postgres) in log order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

AUDITED_TYPES = ("RuleSetActivated", "EvaluationRequested", "DecisionMade", "RecruiterDecided",
                 "SlackMessagePosted", "CandidateErased")
"""Decisions and what people asked for; every `Command*` outcome (attempts, lost answers,
reconciliations, success, skip, failure) is included as well."""


async def records(conn: asyncpg.Connection, since: datetime | None, until: datetime | None,
                  *, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every decision and effect recorded in [since, until), by stream sequence, in pages."""
    after = 0
    while True:
        rows = await conn.fetch(
            """SELECT stream_seq, event_id, event_type, schema_version, key, source, occurred_at, recorded_at,
                      correlation_id, causation_id, payload
               FROM event_log
               WHERE stream_seq > $1 AND ($2::timestamptz IS NULL OR recorded_at >= $2)
                 AND ($3::timestamptz IS NULL OR recorded_at < $3)
                 AND (event_type = ANY($4::text[]) OR event_type LIKE 'Command%')
               ORDER BY stream_seq LIMIT $5""", after, since, until, list(AUDITED_TYPES), batch)
        for r in rows:
            yield {"record": "event", **{k: (v.isoformat() if isinstance(v, datetime) else v)
                                         for k, v in dict(r).items()}}
        if len(rows) < batch:
            return
        after = rows[-1]["stream_seq"]

"""The dead-letter queue as an operator sees it: the generic admin alert for a dead letter, how many
are still open (for /health), and listing, showing and retrying them (`autoadvance dlq`).

The DLQ stream denies deletes (it is part of the record), so a retry is remembered in Postgres
(`dlq_retries`): a dead letter is open until it was retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats.js.errors
import orjson
from nats.js import JetStreamContext

from contracts import subjects
from contracts.commands import SendAlert
from contracts.consumers import DeadLetter
from contracts.envelope import MSG_ID_HEADER, Envelope
from contracts.ids import derive_id

RETRY_HEADER = "Dlq-Retry-Of"
"""Set on a message re-sent from the DLQ: its DLQ sequence. Consumers see it as `Delivered.retried`."""


def generic_alert(dead: DeadLetter, stream: str, stream_seq: int, subject: str) -> tuple[str, Envelope]:
    """(subject, SendAlert command) for a dead letter whose subscription has no hook of its own.

    One id per original message (stream + sequence), so the same event given up by several
    consumers alerts the admins once."""
    env = dead.delivered.envelope if dead.delivered else None
    what = f"{env.event_type} {env.event_id}" if env else f"an unreadable message on {subject}"
    text = (f"{what} could not be processed by {dead.consumer} and is in the dead-letter queue "
            f"(DLQ #{dead.dlq_seq}). Reason: {dead.reason[:400]}. "
            f"Inspect with `autoadvance dlq show {dead.dlq_seq}`; after fixing the cause, "
            f"`autoadvance dlq retry {dead.dlq_seq}`.")
    app_id = env.payload.get("application_id") if env else None
    app_id = app_id if isinstance(app_id, str) else None
    command_id = derive_id("dead-letter-alert", stream, stream_seq)
    now = datetime.now(UTC)
    payload = SendAlert(command_id=command_id, kind="dead_letter", text=text, application_id=app_id)
    alert = Envelope(event_id=command_id, event_type="SendAlert", key=app_id or "dead_letter", occurred_at=now,
                     recorded_at=now, correlation_id=env.correlation_id if env else None,
                     causation_id=env.event_id if env else None, source="runtime", payload=payload.model_dump())
    return subjects.command_subject("slack", "alert", alert.key), alert


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    dlq_seq: int
    consumer: str
    subject: str
    reason: str
    time: datetime | None
    headers: dict[str, str]
    data: bytes
    retried_at: datetime | None

    def summary(self) -> dict[str, Any]:
        event_type, event_id = _identity(self.data)
        return {"dlq_seq": self.dlq_seq, "consumer": self.consumer, "subject": self.subject,
                "event_type": event_type, "event_id": event_id, "reason": self.reason,
                "dead_lettered_at": self.time.isoformat() if self.time else None,
                "retried_at": self.retried_at.isoformat() if self.retried_at else None}

    def detail(self) -> dict[str, Any]:
        try:
            body: Any = orjson.loads(self.data)
        except orjson.JSONDecodeError:
            body = self.data.decode("utf-8", errors="replace")
        return {**self.summary(), "headers": self.headers, "body": body}


def _identity(data: bytes) -> tuple[str | None, str | None]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    return doc.get("event_type"), doc.get("event_id")


async def _retried(pool: asyncpg.Pool) -> dict[int, datetime]:
    async with pool.acquire() as conn:
        return {r["dlq_seq"]: r["retried_at"] for r in await conn.fetch("SELECT dlq_seq, retried_at FROM dlq_retries")}


async def _bounds(js: JetStreamContext) -> tuple[int, int, int]:
    """(first seq, last seq, message count) of the DLQ; zeros when it does not exist yet."""
    try:
        state = (await js.stream_info(subjects.DLQ_STREAM)).state
    except nats.js.errors.NotFoundError:
        return 0, 0, 0
    return state.first_seq, state.last_seq, state.messages


async def open_count(js: JetStreamContext, pool: asyncpg.Pool) -> int:
    """Dead letters not retried yet."""
    first, _, messages = await _bounds(js)
    if not messages:
        return 0
    retried = [seq for seq in await _retried(pool) if seq >= first]
    return max(0, messages - len(retried))


async def get(js: JetStreamContext, pool: asyncpg.Pool, dlq_seq: int) -> DeadLetterEntry | None:
    try:
        msg = await js.get_msg(subjects.DLQ_STREAM, dlq_seq)
    except (nats.js.errors.NotFoundError, nats.js.errors.BadRequestError):
        return None
    return _entry(dlq_seq, msg, (await _retried(pool)).get(dlq_seq))


def _entry(dlq_seq: int, msg: Any, retried_at: datetime | None) -> DeadLetterEntry:
    headers = {k: str(v) for k, v in (msg.headers or {}).items()}
    return DeadLetterEntry(dlq_seq=dlq_seq, consumer=headers.get("Dlq-Consumer", "?"),
                           subject=headers.get("Dlq-Subject", msg.subject), reason=headers.get("Dlq-Reason", ""),
                           time=getattr(msg, "time", None), headers=headers, data=bytes(msg.data or b""),
                           retried_at=retried_at)


async def entries(js: JetStreamContext, pool: asyncpg.Pool, *, include_retried: bool = False,
                  limit: int = 100) -> list[DeadLetterEntry]:
    """The newest dead letters, oldest first; by default only those still open."""
    first, last, messages = await _bounds(js)
    if not messages:
        return []
    retried = await _retried(pool)
    out: list[DeadLetterEntry] = []
    for seq in range(last, first - 1, -1):
        if len(out) >= limit:
            break
        if seq in retried and not include_retried:
            continue
        try:
            msg = await js.get_msg(subjects.DLQ_STREAM, seq)
        except nats.js.errors.NotFoundError:
            continue
        out.append(_entry(seq, msg, retried.get(seq)))
    return list(reversed(out))


class RetryRefused(Exception):
    """The dead letter cannot be retried; the message says why."""


async def retry(js: JetStreamContext, pool: asyncpg.Pool, dlq_seq: int) -> int:
    """Re-send a dead letter to its original subject and mark it retried; returns the new stream seq.

    It gets a fresh `Nats-Msg-Id` (the duplicate window would drop the original one) and the
    `Dlq-Retry-Of` header. Handlers are idempotent (processed marks, inboxes keyed by command id);
    a command that failed before is tried again because of that header.
    """
    entry = await get(js, pool, dlq_seq)
    if entry is None:
        raise RetryRefused(f"DLQ #{dlq_seq} does not exist")
    if entry.retried_at is not None:
        raise RetryRefused(f"DLQ #{dlq_seq} was already retried at {entry.retried_at.isoformat()}")
    _, event_id = _identity(entry.data)
    headers = {k: v for k, v in entry.headers.items() if not k.startswith("Dlq-") and k != MSG_ID_HEADER}
    headers[MSG_ID_HEADER] = derive_id("dlq-retry", event_id or entry.subject, dlq_seq)
    headers[RETRY_HEADER] = str(dlq_seq)
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval("INSERT INTO dlq_retries (dlq_seq) VALUES ($1) ON CONFLICT DO NOTHING "
                                      "RETURNING dlq_seq", dlq_seq)
        if claimed is None:
            raise RetryRefused(f"DLQ #{dlq_seq} is being retried by someone else")
        ack = await js.publish(entry.subject, entry.data, headers=headers)
        await conn.execute("UPDATE dlq_retries SET republished_seq = $2 WHERE dlq_seq = $1", dlq_seq, ack.seq)
    return int(ack.seq)

"""FastStream wiring for durable pull consumers, and the one place failures are mapped.

Per batch: parse envelopes (unparsable → DLQ), then in ONE transaction drop already-processed
events, run the handler, write processed marks and the checkpoint; ack only after commit.
TransientError/unknown → NAK with a growing delay (DLQ once MaxDeliver is reached);
PermanentError → the batch is retried message by message and the poison one goes to the DLQ.
Waiting (effect handlers) → the message is kept in progress and handed to the handler again later,
without a redelivery: waiting for another holder never counts toward MaxDeliver.

Why one module of ~460 lines: it is the one place failures meet JetStream (ack, NAK, in progress,
DLQ); every consumer's delivery semantics can be read, and checked, here alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import asyncpg
import nats
import nats.js.errors
import structlog
from faststream import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.params import NoCast
from nats.aio.msg import Msg
from nats.js.api import AckPolicy as JsAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy

from contracts import subjects
from contracts.consumers import (
    DeadLetter,
    Delivered,
    EffectHandler,
    PreparedTxHandler,
    Subscription,
    TxHandler,
)
from contracts.envelope import parse_envelope
from contracts.errors import PermanentError, Waiting
from runtime.dead_letters import RETRY_HEADER, generic_alert
from runtime.pause import EffectsPausedError, PauseSwitch

log = structlog.get_logger(__name__)

_YIELD_EVERY = 256
"""Decoding a batch gives the event loop a turn after every this many messages."""
MAX_PARKED = 256
"""At most this many waiting messages are kept in progress per consumer; beyond, a wait is a NAK."""


def nak_delay(num_delivered: int) -> float:
    """0.5 s, 1 s, 2 s … capped at 30 s."""
    return min(30.0, 0.5 * (2 ** max(0, num_delivered - 1)))


async def dead_letter(js, durable: str, msg: Msg, reason: str) -> int | None:
    """Copy the message to the DLQ with its original headers and the reason, then TERM it.

    Returns the DLQ sequence, or None when the DLQ did not take it (the message is then NAKed,
    not TERMed, so nothing is lost)."""
    headers = dict(msg.headers or {})
    headers.pop("Nats-Msg-Id", None)
    headers.pop(RETRY_HEADER, None)
    meta = msg.metadata
    headers.update({
        "Dlq-Reason": reason[:1000],
        "Dlq-Consumer": durable,
        "Dlq-Subject": msg.subject,
        "Dlq-Stream": meta.stream,
        "Dlq-Stream-Seq": str(meta.sequence.stream),
    })
    try:
        ack = await js.publish(subjects.dlq_subject(durable), msg.data, headers=headers)
    except Exception as exc:  # noqa: BLE001 - kept on its stream for a later delivery instead
        log.error("dead_letter_not_stored", consumer=durable, stream_seq=meta.sequence.stream,
                  error=type(exc).__name__)
        await msg.nak(delay=30.0)
        return None
    await msg.term()
    log.error("message_dead_lettered", consumer=durable, stream_seq=meta.sequence.stream, dlq_seq=ack.seq,
              reason=reason[:200])
    return int(ack.seq)


def _ack_tokens(msg: Msg) -> list[str] | None:
    """The tokens of the ack subject `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.
    <consumer seq>.<time>.<pending>`, or None for other forms (domains: read `metadata` instead).
    Reading them is cheaper than nats-py's `metadata`, which builds several objects per message
    and showed up in the projectors' profile."""
    tokens = (msg.reply or "").split(".")
    return tokens if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK" else None


def position(msg: Msg) -> tuple[int, int]:
    """(stream sequence, delivery count) of a JetStream message."""
    if tokens := _ack_tokens(msg):
        return int(tokens[5]), int(tokens[4])
    meta = msg.metadata
    return meta.sequence.stream, meta.num_delivered


def waiting_after(msg: Msg) -> int:
    """How many messages the consumer still had for us when JetStream delivered `msg` (the
    `<pending>` token of its ack subject); 0 when unknown."""
    if tokens := _ack_tokens(msg):
        return int(tokens[8])
    try:
        return int(msg.metadata.num_pending or 0)
    except Exception:  # noqa: BLE001 - not a JetStream message: nothing known
        return 0


def next_fetch_size(msgs: Sequence[Msg], batch_size: int, max_batch_size: int) -> int:
    """The size of the next fetch: what the consumer has waiting, between `batch_size` and
    `max_batch_size`.

    A batch costs a fixed number of round trips (fetch, transaction, statements, commit), and in
    a busy process each of them also waits for its turn on the event loop. With a fixed size the
    consumer's rate is capped by that cost, and under sustained load the backlog grows without
    bound; growing the batch with the backlog spreads the cost over more events, so the consumer
    catches up, and it shrinks back to `batch_size` once it has."""
    if not msgs:
        return batch_size
    return max(batch_size, min(max_batch_size, waiting_after(msgs[-1])))


def fetch_delay(fetched: int, batch_size: int, linger_s: float) -> float:
    """How long to wait before the next fetch: `linger_s` after a small batch, else none.

    A consumer that keeps up fetches whatever has arrived since its last batch, often a handful of
    messages, and each batch costs a fixed number of round trips and a transaction: at a few
    hundred events/s that fixed cost, not the events, was most of the worker processes' CPU
    (decision 0007), CPU a 2-core machine's HTTP process then lacks. Waiting a few milliseconds
    after a small batch lets the next one gather what arrives meanwhile. Not after an empty fetch
    (the next event after a quiet spell is fetched at once) nor a full one (a backlog is drained
    without pause)."""
    return linger_s if 0 < fetched < batch_size else 0.0


class ConsumerRunner:
    """Runs one Subscription's batches; used by the FastStream subscriber and by tests."""

    def __init__(self, sub: Subscription, pool: asyncpg.Pool, js, *, max_deliver: int,
                 ack_wait_s: float | None = None, gate: PauseSwitch | None = None) -> None:
        self.sub = sub
        self.pool = pool
        self.js = js
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.gate = gate
        self._parked: set[asyncio.Task[None]] = set()
        self._closing = False

    async def on_batch(self, msgs: Sequence[Msg]) -> None:
        await self.settle(*await self.decode(msgs))

    async def decode(self, msgs: Sequence[Msg]) -> tuple[list[tuple[Msg, Delivered]], Any]:
        """Parse the envelopes (what is not one goes to the DLQ at once: nothing else can fix it),
        then the subscription's pure `prepare` step, if it has one."""
        batch: list[tuple[Msg, Delivered]] = []
        for n, msg in enumerate(msgs, 1):
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # a large batch lets the process's other tasks (HTTP) run meanwhile
            stream_seq, num_delivered = position(msg)
            try:
                env = parse_envelope(msg.data)
            except PermanentError as exc:
                await self._dead_letter(msg, None, str(exc))
                continue
            retried = bool(msg.headers and msg.headers.get(RETRY_HEADER))
            batch.append((msg, Delivered(env, stream_seq, msg.subject, num_delivered, retried)))
        prepared = None
        if batch and self.sub.prepare is not None:
            try:
                prepared = self.sub.prepare([d for _, d in batch])
            except Exception:  # noqa: BLE001 - the handler meets the same data again and its error is mapped
                prepared = None
        return batch, prepared

    async def settle(self, batch: list[tuple[Msg, Delivered]], prepared: Any = None) -> None:
        """Apply a decoded batch in one transaction and ack after commit, or hand it back."""
        if not batch:
            return
        try:
            await self._apply(batch, prepared)
        except asyncio.CancelledError:
            await asyncio.shield(self._nak_all(batch, delay=None))
            raise
        except Waiting as exc:
            if len(batch) == 1 and self._park(*batch[0], exc.retry_after):
                return
            await self._retry_later(batch, exc)
            return
        except PermanentError as exc:
            if len(batch) == 1:
                await self._dead_letter(batch[0][0], batch[0][1], f"{type(exc).__name__}: {exc}")
                return
            for one in batch:  # isolate the poison message; the rest still apply
                await self.settle([one])
            return
        except Exception as exc:  # TransientError and anything unexpected
            await self._retry_later(batch, exc)
            return
        for msg, _ in batch:
            await msg.ack()

    async def _apply(self, batch: list[tuple[Msg, Delivered]], prepared: Any = None) -> None:
        delivered = [d for _, d in batch]
        if not self.sub.transactional:
            effect = cast(EffectHandler, self.sub.handler)
            for msg, d in batch:
                async with self._still_working(msg):
                    await self._effect(effect, d)
            return
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = delivered
            if self.sub.processed_marks:
                fresh = await _claim(conn, self.sub.durable, delivered)
            if fresh and self.sub.prepare is not None:
                await cast(PreparedTxHandler, self.sub.handler)(conn, fresh, prepared)
            elif fresh:
                await cast(TxHandler, self.sub.handler)(conn, fresh)
            await conn.execute(
                """INSERT INTO consumer_checkpoints (consumer, stream_seq, updated_at) VALUES ($1, $2, now())
                   ON CONFLICT (consumer) DO UPDATE
                   SET stream_seq = GREATEST(consumer_checkpoints.stream_seq, EXCLUDED.stream_seq), updated_at = now()""",
                self.sub.durable, max(d.stream_seq for d in delivered),
            )

    async def _effect(self, effect: EffectHandler, d: Delivered) -> None:
        """While effects are paused the message is held here, kept `in_progress`, so it is neither
        redelivered nor counted toward MaxDeliver; an effect stopped by the switch on its way (nothing
        sent) waits again and runs after resume."""
        while True:
            if self.gate is not None:
                await self.gate.wait_open()
            try:
                await effect(self.pool, d)
                return
            except EffectsPausedError:
                if self.gate is None:
                    raise
                log.info("effect_paused_on_its_way", consumer=self.sub.durable, event_id=d.envelope.event_id)

    @contextlib.asynccontextmanager
    async def _still_working(self, msg: Msg) -> AsyncIterator[None]:
        """While an effect handler runs, tell JetStream every third of the ack wait that the message
        is in progress, so a slow call is never redelivered to another replica under it."""
        if not self.ack_wait_s:
            yield
            return
        interval = self.ack_wait_s / 3

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await msg.in_progress()
                except Exception as exc:  # noqa: BLE001 - the lease still guards the command
                    log.warning("in_progress_failed", consumer=self.sub.durable, error=type(exc).__name__)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _park(self, msg: Msg, d: Delivered, delay: float) -> bool:
        """Keep a waiting message in progress and run its handler again after `delay`: no NAK, so
        JetStream does not count a delivery for a wait. False when this consumer cannot park it
        (transactional, no ack wait known, or too many parked already): it is NAKed instead."""
        if self.sub.transactional or not self.ack_wait_s or self._closing or len(self._parked) >= MAX_PARKED:
            return False
        task = asyncio.create_task(self._wake_later(msg, d, delay))
        self._parked.add(task)
        task.add_done_callback(self._parked.discard)
        return True

    async def _wake_later(self, msg: Msg, d: Delivered, delay: float) -> None:
        try:
            async with self._still_working(msg):
                await asyncio.sleep(max(0.05, delay))
        except asyncio.CancelledError:  # shutting down: hand it back for another replica now
            await asyncio.shield(self._nak_all([(msg, d)], delay=None))
            raise
        await self.settle([(msg, d)])  # waits again (a new task) if the other holder is still at it

    async def close(self) -> None:
        """Hand back the messages parked while waiting (the worker is stopping); a wait from now on
        is a NAK."""
        self._closing = True
        tasks = list(self._parked)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _retry_later(self, batch: list[tuple[Msg, Delivered]], exc: Exception) -> None:
        """NAK with a growing delay, or the error's own `retry_after` (a 429's, a busy lease's) if longer."""
        reason = f"{type(exc).__name__}: {exc}"
        log.warning("batch_failed", consumer=self.sub.durable, size=len(batch), error=reason[:300])
        wanted = getattr(exc, "retry_after", None)
        for msg, d in batch:
            if d.num_delivered >= self.max_deliver:
                await self._dead_letter(msg, d, f"max deliveries reached; last error {reason}")
            else:
                delay = nak_delay(d.num_delivered)
                await msg.nak(delay=max(delay, float(wanted)) if isinstance(wanted, int | float) else delay)

    async def _dead_letter(self, msg: Msg, delivered: Delivered | None, reason: str) -> None:
        """DLQ, then tell the component (its hook records the outcome and alerts) or, without a
        hook, alert the admins once per original message (one id per stream position)."""
        dlq_seq = await dead_letter(self.js, self.sub.durable, msg, reason)
        if dlq_seq is None:
            return
        dead = DeadLetter(self.sub.durable, reason, delivered, dlq_seq)
        try:
            if self.sub.on_dead_letter is not None and delivered is not None:
                await self.sub.on_dead_letter(self.pool, dead)
            else:
                subject, alert = generic_alert(dead, msg.metadata.stream, msg.metadata.sequence.stream, msg.subject)
                await self.js.publish(subject, alert.to_bytes(), headers=alert.headers())
        except Exception as exc:  # noqa: BLE001 - the message is safe in the DLQ and /health shows it
            log.error("dead_letter_hook_failed", consumer=self.sub.durable, dlq_seq=dlq_seq,
                      error=f"{type(exc).__name__}: {exc}"[:300])

    async def _nak_all(self, batch: list[tuple[Msg, Delivered]], delay: float | None) -> None:
        for msg, _ in batch:
            try:
                await msg.nak(delay=delay)
            except Exception:  # noqa: BLE001 - shutting down; JetStream redelivers after ack_wait anyway
                pass


async def _claim(conn: asyncpg.Connection, consumer: str, delivered: list[Delivered]) -> list[Delivered]:
    """Insert processed marks; return only the events not processed before (first occurrence)."""
    ids = [d.envelope.event_id for d in delivered]
    rows = await conn.fetch(
        """INSERT INTO processed_events (consumer, event_id)
           SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id""",
        consumer, ids,
    )
    new_ids = {r["event_id"] for r in rows}
    fresh: list[Delivered] = []
    for d in delivered:
        if d.envelope.event_id in new_ids:
            new_ids.discard(d.envelope.event_id)  # a duplicate inside one batch counts once
            fresh.append(d)
    return fresh


async def pull_loop(js, sub: Subscription, runner: ConsumerRunner, stop: asyncio.Event, *, batch_size: int,
                    ack_wait_s: float, max_deliver: int, fetch_wait_s: float = 1.0,
                    max_batch_size: int | None = None, linger_s: float = 0.0) -> None:
    """A durable pull consumer for transactional batches, on nats-py directly.

    FastStream 0.7.8's batch pull loop keeps fetching until the batch is full or its timeout
    passes, so at low load each message waits out the timeout; with a short timeout it leaves
    pull requests behind and, in our trials, stranded messages until ack_wait (1 run in 15).
    nats-py's `fetch` returns as soon as messages are there. The next batch is fetched and
    decoded while the current one's transaction runs (Python and Postgres work at the same time,
    on two cores); batches still commit strictly in order, each acked after its own commit.
    A fetch asks for what the consumer has waiting, up to `max_batch_size` (`next_fetch_size`).
    After a fetch that found fewer than `batch_size` (but some), the next one waits `linger_s`
    first (`fetch_delay`), so that what arrives meanwhile makes one batch, not several.
    """
    max_batch_size = max(batch_size, max_batch_size or batch_size)
    config = ConsumerConfig(
        durable_name=sub.durable, ack_policy=JsAckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
        max_deliver=max_deliver + 1,  # one spare delivery so our own DLQ step always runs
        ack_wait=ack_wait_s, max_ack_pending=max(1024, max_batch_size * 4),  # two batches in flight fit
    )
    if sub.filter_subjects:  # several filters: declare (or update) the consumer, then bind to it
        config.filter_subjects = sub.filters()
        await js.add_consumer(sub.stream, config)
        psub = await js.pull_subscribe_bind(durable=sub.durable, stream=sub.stream)
    else:
        psub = await js.pull_subscribe(sub.subject, durable=sub.durable, stream=sub.stream, config=config)

    async def fetch(size: int, delay: float = 0.0) -> list[Msg]:
        if delay:
            await asyncio.sleep(delay)
        try:
            return await psub.fetch(size, timeout=fetch_wait_s)
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        except (nats.errors.ConnectionClosedError, nats.errors.NoRespondersError, nats.js.errors.APIError,
                nats.errors.Error) as exc:
            log.warning("fetch_failed", consumer=sub.durable, error=type(exc).__name__)
            await asyncio.sleep(0.5)
            return []

    pending = asyncio.create_task(fetch(batch_size))
    applying: asyncio.Task | None = None
    try:
        while not stop.is_set():
            msgs = await pending
            pending = asyncio.create_task(fetch(next_fetch_size(msgs, batch_size, max_batch_size),
                                                fetch_delay(len(msgs), batch_size, linger_s)))
            if not msgs:
                continue
            batch, prepared = await runner.decode(msgs)  # while the previous batch's transaction runs
            if applying is not None:
                await applying  # batches commit strictly one after the other
            applying = asyncio.create_task(runner.settle(batch, prepared))
        if applying is not None:
            await applying
    finally:
        if applying is not None and not applying.done():  # cancelled: it NAKs its batch
            applying.cancel()
            await asyncio.gather(applying, return_exceptions=True)
        pending.cancel()
        try:
            leftover = await pending
        except (asyncio.CancelledError, Exception):  # noqa: BLE001
            leftover = []
        for msg in leftover:  # fetched but not applied: hand back at once
            try:
                await msg.nak()
            except Exception:  # noqa: BLE001
                pass
        try:
            await psub.unsubscribe()
        except Exception:  # noqa: BLE001
            pass


def attach_effect(broker: NatsBroker, sub: Subscription, pool: asyncpg.Pool, *, max_deliver: int = 10,
                  ack_wait_s: float = 30.0, gate: PauseSwitch | None = None) -> Callable[[], Awaitable[None]]:
    """A FastStream pull subscriber for effect handlers (own transactions), held while the pause
    switch `gate` is on. Returns what stops it cleanly: handing back the messages it keeps while
    they wait."""
    runner_box: dict[str, ConsumerRunner] = {}

    async def decoder(msg, original=None):  # hand the raw nats message to the runner
        return msg.raw_message

    config = ConsumerConfig(durable_name=sub.durable, ack_policy=JsAckPolicy.EXPLICIT,
                            deliver_policy=DeliverPolicy.ALL, max_deliver=max_deliver + 1, ack_wait=ack_wait_s)
    subscriber = broker.subscriber(
        sub.subject, stream=JStream(sub.stream, declare=False), durable=sub.durable, config=config,
        pull_sub=PullSub(batch_size=sub.batch_size, timeout=5.0), ack_policy=AckPolicy.MANUAL,
        decoder=decoder, include_in_schema=False,
    )

    async def handle(msg: NoCast) -> None:
        runner = runner_box.get("r")
        if runner is None:
            runner = runner_box["r"] = ConsumerRunner(sub, pool, broker.config.connection_state.stream,
                                                      max_deliver=max_deliver, ack_wait_s=ack_wait_s, gate=gate)
        await runner.on_batch([msg])

    subscriber(handle)

    async def close() -> None:
        if (runner := runner_box.get("r")) is not None:
            await runner.close()

    return close

"""How a component declares a durable consumer, so `runtime` can wire it and map its errors.

A component's `subscribers.py` returns `Subscription`s; it never touches FastStream itself.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Envelope


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message as a handler sees it: the envelope plus where it sits in its stream."""

    envelope: Envelope
    stream_seq: int
    subject: str
    num_delivered: int = 1


# Transactional handlers get (connection inside an open transaction, fresh messages only), and
# with `prepare` also its result; effect handlers get (pool, one message) and manage their own
# short transactions. `Subscription.transactional` and `.prepare` say which one `handler` is.
TxHandler = Callable[[Any, list[Delivered]], Awaitable[None]]
PreparedTxHandler = Callable[[Any, list[Delivered], Any], Awaitable[None]]
EffectHandler = Callable[[Any, Delivered], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    durable: str
    stream: str
    subject: str
    handler: TxHandler | PreparedTxHandler | EffectHandler
    transactional: bool = True
    batch_size: int = 256
    processed_marks: bool = True
    """False when the handler's own rows are unique per event id (e.g. the event_log copy)."""
    role: str = "projectors"
    filter_subjects: tuple[str, ...] = ()
    """When set, the consumer receives only these subjects (NATS 2.10 multi-filter) instead of
    `subject`: a projector that needs a few event types is not handed every other one to skip."""
    prepare: Callable[[list[Delivered]], Any] | None = None
    """Pure work on a batch done before its transaction, while the previous batch's commits; the
    handler is then called as `handler(conn, fresh, prepared)` and must check `prepared` is for
    `fresh` (a batch split to isolate a poison message is applied without it)."""

    def filters(self) -> list[str]:
        return list(self.filter_subjects) or [self.subject]

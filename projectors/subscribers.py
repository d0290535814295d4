"""The projectors' durable consumer: name, stream, subjects and handler (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from projectors import handlers


def subscriptions() -> list[Subscription]:
    # no processed marks: the event_log copy is the mark (see `handlers.project`)
    return [Subscription(handlers.PROJECTOR, subjects.EVENTS_STREAM, subjects.EVENTS_ALL, handlers.project,
                         processed_marks=False, prepare=handlers.plan)]

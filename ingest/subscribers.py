"""Ingest's durable consumers (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from ingest.handlers import POLL_TRACKER, poll_tracker
from ingest.polling import Decay


def subscriptions(decay: Decay) -> list[Subscription]:
    return [Subscription(POLL_TRACKER, subjects.EVENTS_STREAM, subjects.EVENTS_ALL, poll_tracker(decay),
                         role="poller")]

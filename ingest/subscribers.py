"""Ingest's durable consumers (wired by runtime)."""

from datetime import timedelta

from contracts import subjects
from contracts.consumers import Subscription
from ingest.handlers import POLL_TRACKER, poll_tracker


def subscriptions(feedback_timeout_s: float) -> list[Subscription]:
    return [Subscription(POLL_TRACKER, subjects.EVENTS_STREAM, subjects.EVENTS_ALL,
                         poll_tracker(timedelta(seconds=feedback_timeout_s)), role="poller")]

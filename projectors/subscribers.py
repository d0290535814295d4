"""The projectors' durable consumers: names, streams, subjects and handlers (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from projectors import handlers


def subscriptions() -> list[Subscription]:
    return [
        Subscription(handlers.EVENT_LOG, subjects.EVENTS_STREAM, subjects.EVENTS_ALL,
                     handlers.project_event_log, processed_marks=False),
        Subscription(handlers.SCHEDULES, subjects.EVENTS_STREAM, subjects.events_of_type("InterviewScheduleUpdated"),
                     handlers.project_schedules),
        Subscription(handlers.ASHBY, subjects.EVENTS_STREAM, "ev.ashby.>", handlers.project_ashby,
                     filter_subjects=tuple(f"ev.ashby.{t}.*" for t in handlers.ASHBY_EVENT_TYPES)),
    ]

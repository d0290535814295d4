"""The notifier's durable consumers: Slack commands, and recruiters' clicks (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from notifier.handlers import CLICKS_DURABLE, COMMANDS_DURABLE, click_handler, command_handler


def subscriptions(slack, ashby, publisher, *, admin_channel: str, fallback_channel: str) -> list[Subscription]:
    return [
        Subscription(COMMANDS_DURABLE, subjects.COMMANDS_STREAM, subjects.commands_for("slack"),
                     command_handler(slack, ashby, publisher, admin_channel=admin_channel,
                                     fallback_channel=fallback_channel),
                     transactional=False, batch_size=16, role="notifier"),
        Subscription(CLICKS_DURABLE, subjects.EVENTS_STREAM, subjects.events_of_type("RecruiterDecided"),
                     click_handler(slack), transactional=False, batch_size=16, role="notifier"),
    ]

"""The notifier's durable consumers: Slack commands, recruiters' clicks, and the executor's outcomes
of the archives recruiters asked for (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from notifier.handlers import (
    CLICKS_DURABLE,
    COMMANDS_DURABLE,
    OUTCOMES_DURABLE,
    CandidateNames,
    archive_outcome_handler,
    click_handler,
    command_handler,
    dead_letter_hook,
    no_names,
)
from notifier.windows import WINDOWS_DURABLE, window_handler


def subscriptions(slack, ashby, publisher, *, admin_channel: str, fallback_channel: str,
                  names: CandidateNames | None = None) -> list[Subscription]:
    names = names or no_names
    return [
        Subscription(COMMANDS_DURABLE, subjects.COMMANDS_STREAM, subjects.commands_for("slack"),
                     command_handler(slack, ashby, publisher, admin_channel=admin_channel,
                                     fallback_channel=fallback_channel, names=names),
                     transactional=False, batch_size=16, role="notifier", on_dead_letter=dead_letter_hook(publisher)),
        Subscription(CLICKS_DURABLE, subjects.EVENTS_STREAM, subjects.events_of_type("RecruiterDecided"),
                     click_handler(slack, names), transactional=False, batch_size=16, role="notifier"),
        Subscription(OUTCOMES_DURABLE, subjects.EVENTS_STREAM, subjects.events_from("executor"),
                     archive_outcome_handler(slack, names), transactional=False, batch_size=16, role="notifier"),
        Subscription(WINDOWS_DURABLE, subjects.EVENTS_STREAM, subjects.events_from("evaluator"),
                     window_handler(slack, ashby, publisher, fallback_channel=fallback_channel, names=names),
                     transactional=False, batch_size=16, role="notifier"),
    ]

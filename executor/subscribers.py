"""The executor's durable consumer of Ashby commands (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from executor.handlers import DURABLE, command_handler


def subscriptions(api, publisher, *, dry_run: bool) -> list[Subscription]:
    return [Subscription(DURABLE, subjects.COMMANDS_STREAM, subjects.commands_for("ashby"),
                         command_handler(api, publisher, dry_run=dry_run), transactional=False, batch_size=16,
                         role="executor")]

"""The executor's durable consumer of Ashby commands (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from executor.dead_letters import RememberingAshby, dead_letter_hook
from executor.handlers import DURABLE, command_handler


def subscriptions(api, publisher, *, dry_run: bool) -> list[Subscription]:
    ashby = RememberingAshby(api)
    return [Subscription(DURABLE, subjects.COMMANDS_STREAM, subjects.commands_for("ashby"),
                         command_handler(ashby, publisher, dry_run=dry_run), transactional=False, batch_size=16,
                         role="executor", on_dead_letter=dead_letter_hook(ashby, publisher))]

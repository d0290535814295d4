"""The executor's durable consumer of Ashby commands (wired by runtime)."""

from contracts import subjects
from contracts.consumers import Subscription
from executor.handlers import DURABLE, AshbyCalls, Publisher, command_handler
from executor.plan import LeaseTimes


def subscriptions(api: AshbyCalls, publisher: Publisher, *, dry_run: bool, replica: str,
                  times: LeaseTimes) -> list[Subscription]:
    return [Subscription(DURABLE, subjects.COMMANDS_STREAM, subjects.commands_for("ashby"),
                         command_handler(api, publisher, dry_run=dry_run, replica=replica, times=times),
                         transactional=False, batch_size=1, role="executor")]

"""Error classes that tell the runtime how to treat a failure.

`TransientError`: try again later (NAK with a growing delay). `PermanentError`: retrying cannot
help (dead-letter queue, then TERM). Anything else is treated as transient up to MaxDeliver.
`Waiting`: this delivery did nothing because someone else is working on the same thing; it is
tried again later without spending a delivery.
`error_body` / `ErrorBody`: the one shape of an HTTP error answer.
"""

from typing import Any

from pydantic import BaseModel


class TransientError(Exception):
    """A failure that may pass: a timeout, a 429, a 5xx, a dependency restarting."""


class Waiting(TransientError):
    """Nothing was attempted: another holder is working on this message's subject matter (a live
    lease elsewhere). An effect consumer keeps the message in progress and calls the handler again
    after `retry_after` seconds, so waiting never counts toward CONSUMER_MAX_DELIVER: a long, healthy
    attempt elsewhere cannot dead-letter its duplicate as failed."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(TransientError):
    """A change was sent to an outside system and no answer says whether it took effect: it must not
    be sent again until a read shows it did not happen."""


class PermanentError(Exception):
    """A failure that retrying cannot fix: a malformed message, a 4xx from Ashby."""


class InvalidInput(PermanentError):
    """Input from outside failed validation; `reason` is safe to show the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def error_body(status_code: int, detail: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one shape of every HTTP error answer, Litestar's own (`ErrorBody`)."""
    body: dict[str, Any] = {"status_code": status_code, "detail": detail}
    if extra is not None:
        body["extra"] = extra
    return body


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the service: the status again, a reason, and sometimes details."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any] | None = None

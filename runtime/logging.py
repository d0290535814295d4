"""structlog, configured once: JSON in production, console on a terminal; records of the standard
`logging` module (uvicorn, nats, libraries) are rendered by the same processors."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_REDACT = re.compile("token|secret|signature|authorization|password|api_key|email|name")


def _redact(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Last line of defence: keys that look like secrets or personal data never reach a log."""
    for key in list(event_dict):
        if key == "event":
            continue
        lowered = key.lower()
        if _REDACT.search(lowered) and not lowered.endswith(("_id", "_type")):
            event_dict[key] = "[redacted]"
    return event_dict


def _dumps(obj: object, **_: object) -> str:
    """orjson for the JSON lines (a measured tenth of a webhook's cost went to the stdlib encoder);
    anything it cannot encode is written as its `str`."""
    return orjson.dumps(obj, default=str).decode()


class _CurrentStderr:
    """Whatever `sys.stderr` is at write time (a captured or replaced stream stays usable)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer = structlog.processors.JSONRenderer(serializer=_dumps) if use_json else structlog.dev.ConsoleRenderer(colors=False)
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Standard-library records (uvicorn, nats-py, asyncio, ...) become one line of the same shape,
    # with the emitting logger's name; only warnings and above, so uvicorn's startup and shutdown
    # chatter ("Started server process", "Waiting for application shutdown", ...) stays out.
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_autoadvance", False)]:
        root.removeHandler(old)
    handler._autoadvance = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for noisy in ("faststream", "nats", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Stream and subject names. Every subject in the system comes from a function here.

EVENTS: `ev.<source>.<type>.<key>`; COMMANDS: `cmd.<target>.<verb>.<key>`; DLQ: `dlq.<origin>`.
"""

import re

EVENTS_STREAM = "EVENTS"
COMMANDS_STREAM = "COMMANDS"
DLQ_STREAM = "DLQ"

EVENTS_ALL = "ev.>"
COMMANDS_ALL = "cmd.>"
DLQ_ALL = "dlq.>"

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def token(value: str) -> str:
    """A subject token: NATS forbids '.', '*', '>' and whitespace inside one."""
    cleaned = _UNSAFE.sub("_", value)
    return cleaned or "_"


def event_subject(source: str, event_type: str, key: str) -> str:
    return f"ev.{token(source)}.{token(event_type)}.{token(key)}"


def events_of_type(event_type: str) -> str:
    return f"ev.*.{token(event_type)}.*"


def events_from(source: str) -> str:
    return f"ev.{token(source)}.>"


def events_about(key: str) -> str:
    return f"ev.*.*.{token(key)}"


def command_subject(target: str, verb: str, key: str) -> str:
    return f"cmd.{token(target)}.{token(verb)}.{token(key)}"


def commands_for(target: str) -> str:
    return f"cmd.{token(target)}.>"


def dlq_subject(origin: str) -> str:
    return f"dlq.{token(origin)}"

"""The hash chain of an audit export (pure).

Each line is one JSON object in canonical form (keys sorted, no spaces: `orjson` with
`OPT_SORT_KEYS`), numbered from 1 in `n`. Its `hash` is SHA-256 (hex) of the previous line's hash
(its `prev`, ASCII hex) followed by the canonical bytes of the line without `prev` and `hash`; line
1 chains from `GENESIS`. The last line is `{"record": "end", "records": N, ...}`, chained like the
others, so a line removed at the end is found too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS = hashlib.sha256(b"autoadvance audit export v1").hexdigest()
"""The `prev` of line 1: SHA-256 of the ASCII text `autoadvance audit export v1`."""


def canonical(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def link(prev: str, record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k not in ("prev", "hash")}
    return hashlib.sha256(prev.encode("ascii") + canonical(body)).hexdigest()


class Chain:
    """Numbers and chains records one at a time (an export can be written as it is read)."""

    def __init__(self) -> None:
        self.prev, self.n = GENESIS, 0

    def line(self, record: dict[str, Any]) -> bytes:
        """One record's line (no newline)."""
        self.n += 1
        body = {**record, "n": self.n}
        digest = link(self.prev, body)
        out = canonical({**body, "prev": self.prev, "hash": digest})
        self.prev = digest
        return out

    def end(self, fields: dict[str, Any]) -> bytes:
        """The closing line: how many records came before it, chained like them."""
        return self.line({**fields, "record": "end", "records": self.n})


def chain(records: Iterable[dict[str, Any]], *, end: dict[str, Any]) -> Iterator[bytes]:
    """The export's lines (without newlines): each record numbered and chained, then the end record."""
    lines = Chain()
    for record in records:
        yield lines.line(record)
    yield lines.end(end)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    records: int
    bad_line: int | None = None
    reason: str | None = None


def verify(lines: Iterable[bytes]) -> Verdict:
    """Whether the lines are an unbroken export; else the first bad line (1-based) and why."""
    prev, count, ended = GENESIS, 0, False
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\r\n")
        if ended:
            return Verdict(False, count, number, "a line after the end record")
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return Verdict(False, count, number, "not valid JSON (edited?)")
        if not isinstance(record, dict) or canonical(record) != line:
            return Verdict(False, count, number, "not in canonical form (edited?)")
        if record.get("n") != number:
            return Verdict(False, count, number, f"numbered {record.get('n')!r}, expected {number} "
                                                 "(a record removed, inserted or reordered before it)")
        if record.get("prev") != prev:
            return Verdict(False, count, number, "its prev is not the hash of the line before "
                                                 "(a record removed, inserted or reordered before it)")
        if record.get("hash") != link(prev, record):
            return Verdict(False, count, number, "its hash does not match its content (edited)")
        prev = record["hash"]
        if record.get("record") == "end":
            if record.get("records") != count:
                return Verdict(False, count, number, f"the end record counts {record.get('records')} records, "
                                                     f"the file has {count}")
            ended = True
        else:
            count += 1
    if not ended:
        return Verdict(False, count, number + 1, "the end record is missing (lines removed at the end?)")
    return Verdict(True, count)

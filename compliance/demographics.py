"""Reading the demographic categories an operator imports: a CSV with a `candidate_id` column and
one column per category (`sex`, `race_ethnicity`, ...). Every problem is reported with its line;
a file with any problem imports nothing. Pure.

An empty cell is *unknown* for that category (reported as unknown, never guessed); any other
value, `Declined` included, is a category of its own. Values are kept as written (trimmed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 500_000
MAX_COLUMNS = 20
MAX_VALUE = 200
MAX_PROBLEMS = 50
ID_COLUMN = "candidate_id"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Parsed:
    import_id: str
    """The file's digest: importing the same file again is the same import."""
    columns: tuple[str, ...]
    rows: dict[str, dict[str, str]]  # candidate id -> category -> value (unknown ones left out)


class ImportInvalid(ValueError):
    def __init__(self, problems: list[str], total: int) -> None:
        super().__init__(f"{total} problem(s) in the file; nothing was imported")
        self.problems, self.total = problems, total


def parse_csv(data: bytes) -> Parsed:
    """The file's rows, or ImportInvalid listing the first problems (line numbers as an editor shows
    them; the header is line 1). Problems name lines and columns, never echo a value."""
    problems: list[str] = []
    if len(data) > MAX_BYTES:
        raise ImportInvalid([f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB"], 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ImportInvalid([f"line {line}: not UTF-8 text"], 1) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportInvalid([f"line 1: {exc}"], 1) from None
    if header is None or not any(h.strip() for h in header):
        raise ImportInvalid(["line 1: the file is empty; it needs a header with candidate_id and category columns"], 1)
    columns = [h.strip().lower() for h in header]
    for i, name in enumerate(columns, 1):
        if not _NAME.match(name):
            problems.append(f"line 1, column {i}: a column name is lower-case letters, digits and _ "
                            "(starting with a letter, at most 64)")
    if ID_COLUMN not in columns:
        problems.append("line 1: no candidate_id column")
    if len(set(columns)) != len(columns):
        problems.append("line 1: a column name appears twice")
    if len(columns) > MAX_COLUMNS:
        problems.append(f"line 1: more than {MAX_COLUMNS} columns")
    if len(columns) < 2:
        problems.append("line 1: no category column besides candidate_id")
    if problems:
        raise ImportInvalid(problems, len(problems))
    id_at = columns.index(ID_COLUMN)
    categories = [(i, c) for i, c in enumerate(columns) if i != id_at]
    rows: dict[str, dict[str, str]] = {}
    first_line: dict[str, int] = {}
    total = 0

    def problem(text: str) -> None:
        nonlocal total
        total += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(text)

    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problem(f"line {reader.line_num}: {exc}")
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(rows) >= MAX_ROWS:
            problem(f"line {line}: more than {MAX_ROWS} rows")
            break
        if len(record) != len(columns):
            problem(f"line {line}: {len(record)} fields, the header has {len(columns)}")
            continue
        candidate = record[id_at].strip()
        if not candidate:
            problem(f"line {line}: candidate_id is empty")
            continue
        if len(candidate) > 256 or _CONTROL.search(candidate):
            problem(f"line {line}: candidate_id is longer than 256 characters or holds control characters")
            continue
        if candidate in first_line:
            problem(f"line {line}: candidate {candidate} is already on line {first_line[candidate]}")
            continue
        values: dict[str, str] = {}
        for i, name in categories:
            value = record[i].strip()
            if len(value) > MAX_VALUE or _CONTROL.search(value):
                problem(f"line {line}, column {name}: longer than {MAX_VALUE} characters or holds control characters")
            elif value:
                values[name] = value
        first_line[candidate] = line
        rows[candidate] = values
    if total:
        raise ImportInvalid(problems, total)
    if not rows:
        raise ImportInvalid(["the file has a header and no rows"], 1)
    return Parsed(hashlib.sha256(data).hexdigest()[:32], tuple(c for _, c in categories), rows)

"""`autoadvance replay`: its options, the request they ask for, and the report and exit code it
ends with. `runtime.cli_replay` (the composition root) opens the database and draws the progress
bar; this module reads the log only through the connection it is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from compliance.impact import DEFAULT_MIN_GROUP_SIZE
from evaluator.pure_core import RuleSet, RuleSetInvalid, load_rule_set
from replay.history import (
    AUTO_WORKERS_FROM,
    MAX_AUTO_WORKERS,
    auto_workers,
    log_extent,
    run_request,
)
from replay.report import render
from replay.request import ReplayRequest, parse_moment

EXIT_OK, EXIT_DEFECTS, EXIT_USAGE = 0, 1, 2


class Bar(Protocol):
    """A progress display: events read so far (and the last stream sequence read), then closed."""

    def update(self, done: int, seq: int = 0) -> None: ...
    def close(self) -> None: ...


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = sub.add_parser("replay", help="what-if a rule set over the recorded events, or --verify fidelity",
                            description="Fold the recorded events through the evaluator with a virtual clock. "
                                        "Reads the event_log; sends nothing anywhere.")
    replay.add_argument("--rules", type=Path, help="the rule set to try (YAML or JSON)")
    replay.add_argument("--against", default="CURRENT",
                        help="CURRENT (the rule sets that were live at each point, default) or a rule-set FILE")
    replay.add_argument("--since", help="report decisions from this date / date-time (UTC unless given)")
    replay.add_argument("--until", help="ignore events after this date / date-time")
    replay.add_argument("--format", choices=("table", "json", "html"), default="table")
    replay.add_argument("--out", type=Path, help="write the report here instead of stdout")
    replay.add_argument("--verify", action="store_true",
                        help="replay with the rules that were live and compare with the recorded decisions; "
                             "exit 1 on any difference (takes no --rules or --against)")
    replay.add_argument("--limit", type=int, default=50, help="changes listed in a table or HTML report")
    replay.add_argument("--workers", type=positive, default=None,
                        help="processes to split the applications over (default: one per CPU, at most "
                             f"{MAX_AUTO_WORKERS}, for a log of {AUTO_WORKERS_FROM:,} events or more; else 1)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")


def _moment(option: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError:
        raise ValueError(f"{option}: not a date: {text!r} (use 2026-01-31 or an ISO date-time such as "
                         "2026-01-31T09:00:00+01:00)") from None


def request_from(args: argparse.Namespace) -> ReplayRequest:
    """The request the options ask for; ValueError (or RuleSetInvalid, OSError) says what is wrong."""
    since = _moment("--since", args.since)
    until = _moment("--until", args.until)
    if since is not None and until is not None and since > until:
        raise ValueError(f"--since ({since.isoformat()}) is after --until ({until.isoformat()}): nothing to report")
    if args.verify:
        given = [option for option, used in (("--rules", args.rules is not None),
                                             ("--against", args.against.upper() != "CURRENT")) if used]
        if given:
            raise ValueError(f"--verify replays the rules that were live and takes no {' or '.join(given)}; "
                             "to try a rule set, leave out --verify")
        return ReplayRequest(since=since, until=until, verify=True, workers=args.workers or 0)
    if args.rules is None:
        raise ValueError("--rules NEW.yaml is required (or --verify)")
    rules = _load(args.rules)
    against = None if args.against.upper() == "CURRENT" else _load(Path(args.against))
    return ReplayRequest(rules=rules, against=against, since=since, until=until, workers=args.workers or 0,
                         before_name="current" if against is None else Path(args.against).stem,
                         after_name=args.rules.stem)


def _load(path: Path) -> RuleSet:
    text = path.read_text()
    fmt: Literal["yaml", "json"] = "json" if path.suffix.lower() == ".json" or text.lstrip()[:1] == "{" else "yaml"
    try:
        return load_rule_set(text, fmt=fmt)
    except RuleSetInvalid as exc:
        raise RuleSetInvalid([type(p)(f"{path}: {p.location}", p.message) for p in exc.problems]) from exc


def refuse(exc: Exception) -> int:
    """Say on stderr why the options make no replay; the usage exit code."""
    if isinstance(exc, RuleSetInvalid):
        print("invalid rule set:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        print(f"autoadvance replay: {exc}", file=sys.stderr)
    return EXIT_USAGE


async def run(conn: Any, request: ReplayRequest, args: argparse.Namespace, *, database_url: str,
              progress_bar: Callable[[int, int], Bar], min_group_size: int = DEFAULT_MIN_GROUP_SIZE) -> int:
    """Replay the log over `conn` (worker processes connect to `database_url`), write the report
    where `args` say; EXIT_DEFECTS when a --verify found any. `progress_bar(total, last_seq)`
    makes the `Bar` that shows how far the read is."""
    total, last_seq = await log_extent(conn)
    if request.workers == 0:  # counted here already: run_request need not count again
        request = replace(request, workers=auto_workers(total))
    bar = progress_bar(total, last_seq)
    try:
        outcome = await run_request(conn, request, now=datetime.now(UTC), database_url=database_url,
                                    progress=bar.update, min_group_size=min_group_size)
    finally:
        bar.close()
    text = render(args.format, outcome.run, outcome.diff, outcome.defects, args.limit)
    if args.out:
        args.out.write_text(text)
        print(f"report written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if outcome.defects:
        print(f"{len(outcome.defects)} defect(s): replay did not reproduce the recorded decisions",
              file=sys.stderr)
        return EXIT_DEFECTS
    return EXIT_OK

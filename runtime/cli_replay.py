"""`autoadvance replay` (what-if and --verify) and `autoadvance rebuild <read-model>`.

Both talk to PostgreSQL only: `DATABASE_URL`, or the embedded server of a running `make run`
under `DATA_DIR` (found by its pid file; started for the command, and stopped after, when it is not
running). Neither connects to NATS, Ashby or Slack, so a replay cannot send anything anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from evaluator.history import (
    AUTO_WORKERS_FROM,
    MAX_AUTO_WORKERS,
    ReplayRequest,
    auto_workers,
    log_extent,
    run_request,
)
from evaluator.replay_http import parse_moment
from evaluator.report import render
from evaluator.rules import RuleSetInvalid, load_rule_set
from projectors.rebuild import MODELS, RebuildFailed, rebuild
from runtime.db import create_pool, migrate
from runtime.settings import Settings

EXIT_OK, EXIT_DEFECTS, EXIT_USAGE = 0, 1, 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
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
                             "exit 1 on any difference")
    replay.add_argument("--limit", type=int, default=50, help="changes listed in a table or HTML report")
    replay.add_argument("--workers", type=_positive, default=None,
                        help="processes to split the applications over (default: one per CPU, at most "
                             f"{MAX_AUTO_WORKERS}, for a log of {AUTO_WORKERS_FROM:,} events or more; else 1)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    rebuild_ = sub.add_parser("rebuild", help="rebuild a read model from the event log and switch to it live",
                              description="Build a fresh copy of a read model from event_log in a new schema, "
                                          "catch up with the live projector, check parity, switch queries to "
                                          "it atomically and drop the old copy afterwards.")
    rebuild_.add_argument("model", choices=sorted(MODELS))
    rebuild_.add_argument("--accept-differences", action="store_true",
                          help="switch even if the new copy differs from the live one (after a projector fix)")
    rebuild_.add_argument("--keep-old", action="store_true", help="keep the replaced tables in replaced_<model>_<n>")
    rebuild_.add_argument("--batch-size", type=int, default=5000)
    rebuild_.add_argument("--no-progress", action="store_true")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "replay":
        return await run_replay(args, settings)
    return await run_rebuild(args, settings)


# --- database -----------------------------------------------------------------------------------


def _running_embedded_url(data_dir: Path) -> str | None:
    """The URL of the embedded PostgreSQL a running `autoadvance dev` started under DATA_DIR."""
    pid_file = data_dir / "pg" / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except PermissionError:
        pass  # alive, owned by the embedded server's own OS user
    except OSError:
        return None
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@asynccontextmanager
async def database(settings: Settings):
    """(pool, url): DATABASE_URL, a running embedded server, or one started for this command."""
    url = settings.database_url or _running_embedded_url(settings.data_dir.resolve())
    server = None
    if url is None:
        from runtime.embedded import EmbeddedPostgres

        server = EmbeddedPostgres(settings.data_dir.resolve() / "pg").start()
        url = server.url
    pool = await create_pool(url, max_size=4)
    try:
        await migrate(pool)
        yield pool, url
    finally:
        await pool.close()
        if server is not None:
            server.stop()


# --- progress -----------------------------------------------------------------------------------


class ProgressBar:
    """A one-line bar on stderr, redrawn at most ten times a second; silent when not a terminal."""

    def __init__(self, total: int, *, last_seq: int = 0, label: str = "events", out: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.out = out or sys.stderr
        self.enabled = enabled and self.out.isatty()
        self.total, self.last_seq, self.label = total, last_seq, label
        self.started = time.monotonic()
        self._drawn = 0.0

    def update(self, done: int, seq: int = 0) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn < 0.1 and done < self.total:
            return
        self._drawn = now
        fraction = (seq / self.last_seq) if seq and self.last_seq else (done / self.total if self.total else 1.0)
        fraction = max(0.0, min(1.0, fraction))
        width = 30
        filled = int(width * fraction)
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (elapsed / fraction - elapsed) if fraction > 0 else 0.0
        self.out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:6.1%} {done:,} {self.label} "
                       f"{rate:,.0f}/s eta {eta:4.0f}s ")
        self.out.flush()

    def close(self) -> None:
        if self.enabled:
            self.out.write("\n")
            self.out.flush()


# --- replay -------------------------------------------------------------------------------------


def _moment(option: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError:
        raise ValueError(f"{option}: not a date: {text!r} (use 2026-01-31 or an ISO date-time such as "
                         "2026-01-31T09:00:00+01:00)") from None


def _request(args: argparse.Namespace) -> ReplayRequest:
    since = _moment("--since", args.since)
    until = _moment("--until", args.until)
    if since is not None and until is not None and since > until:
        raise ValueError(f"--since ({since.isoformat()}) is after --until ({until.isoformat()}): nothing to report")
    if args.verify:
        return ReplayRequest(since=since, until=until, verify=True, workers=args.workers or 0)
    if args.rules is None:
        raise ValueError("--rules NEW.yaml is required (or --verify)")
    rules = _load(args.rules)
    against = None if args.against.upper() == "CURRENT" else _load(Path(args.against))
    return ReplayRequest(rules=rules, against=against, since=since, until=until, workers=args.workers or 0,
                         before_name="current" if against is None else Path(args.against).stem,
                         after_name=args.rules.stem)


def _load(path: Path):
    text = path.read_text()
    fmt: Literal["yaml", "json"] = "json" if path.suffix.lower() == ".json" or text.lstrip()[:1] == "{" else "yaml"
    try:
        return load_rule_set(text, fmt=fmt)
    except RuleSetInvalid as exc:
        raise RuleSetInvalid([type(p)(f"{path}: {p.location}", p.message) for p in exc.problems]) from exc


async def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request = _request(args)
    except RuleSetInvalid as exc:
        print("invalid rule set:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OSError) as exc:
        print(f"autoadvance replay: {exc}", file=sys.stderr)
        return EXIT_USAGE
    async with database(settings) as (pool, url):
        async with pool.acquire() as conn:
            total, last_seq = await log_extent(conn)
            if request.workers == 0:  # counted here already: run_request need not count again
                request = replace(request, workers=auto_workers(total))
            bar = ProgressBar(total, last_seq=last_seq, enabled=not args.no_progress)
            try:
                outcome = await run_request(conn, request, now=datetime.now(UTC), database_url=url,
                                            progress=bar.update)
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


# --- rebuild ------------------------------------------------------------------------------------


async def run_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    async with database(settings) as (pool, _):
        async with pool.acquire() as conn:
            total, last_seq = await log_extent(conn)
        bar = ProgressBar(total, last_seq=last_seq, enabled=not args.no_progress)
        try:
            report = await rebuild(pool, args.model, batch_size=args.batch_size,
                                   accept_differences=args.accept_differences, keep_old=args.keep_old,
                                   progress=bar.update)
        except RebuildFailed as exc:
            bar.close()
            print(f"rebuild of {args.model} not switched: {exc}", file=sys.stderr)
            return EXIT_DEFECTS
        bar.close()
    print(f"rebuilt {report.model}: {report.events} events -> {report.rows} rows in {report.seconds:.1f} s "
          f"(switch {report.switch_seconds * 1000:.0f} ms at stream sequence {report.checkpoint}); "
          + ("old copy dropped" if report.old_dropped else f"old copy kept in schema {report.old_schema}"))
    for d in report.differences:
        print(f"  accepted difference: {d}")
    return EXIT_OK

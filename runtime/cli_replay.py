"""Wiring `autoadvance replay` (what-if and --verify; its options and report are `replay.cli`'s)
and `autoadvance rebuild <read-model>` to a database and a progress bar.

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
from pathlib import Path
from typing import TextIO

from projectors.rebuild import MODELS, RebuildFailed, rebuild
from replay import cli as replay_cli
from replay.history import log_extent
from runtime.db import create_pool, migrate
from runtime.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay_cli.add_parser(sub)
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


async def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """The options are checked before any database is opened or started."""
    try:
        request = replay_cli.request_from(args)
    except (ValueError, OSError) as exc:  # RuleSetInvalid is a ValueError
        return replay_cli.refuse(exc)
    async with database(settings) as (pool, url):
        async with pool.acquire() as conn:
            return await replay_cli.run(conn, request, args, database_url=url, progress_bar=lambda total, last: (
                ProgressBar(total, last_seq=last, enabled=not args.no_progress)),
                min_group_size=settings.impact_min_group_size)


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
            return replay_cli.EXIT_DEFECTS
        bar.close()
    print(f"rebuilt {report.model}: {report.events} events -> {report.rows} rows in {report.seconds:.1f} s "
          f"(switch {report.switch_seconds * 1000:.0f} ms at stream sequence {report.checkpoint}); "
          + ("old copy dropped" if report.old_dropped else f"old copy kept in schema {report.old_schema}"))
    for d in report.differences:
        print(f"  accepted difference: {d}")
    return replay_cli.EXIT_OK

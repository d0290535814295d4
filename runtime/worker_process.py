"""`autoadvance dev`'s worker roles in child processes, supervised by the dev process.

In one process the HTTP role and the consumers share one event loop, so on a busy core each waits
for the other: a large projector batch holds webhook answers, and 64 clients' requests hold every
round trip of a batch (docs/decisions/0007-dev-workers-in-child-processes.md). In child processes
(spawned: fresh interpreters, as `autoadvance worker <role>` would be) each gets its own share of
the cores: the projectors one child, the other roles another at a lower CPU priority (`process_groups`).

Each child is started once the embedded NATS and PostgreSQL are up and migrated; it gets their URLs
and the sandboxes' settings, and logs to the same terminal. The dev process stops it (SIGTERM: it
finishes or hands back its batches) before stopping the servers; if it dies, the dev process stops
too, with one log line saying so, rather than answering webhooks nothing would process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from dataclasses import dataclass, field
from typing import Any

import structlog

from runtime.settings import Settings

log = structlog.get_logger("autoadvance")

STOP_TIMEOUT_S = 20.0
"""How long a stopping child may take (its consumers wait up to 15 s for a batch in flight)."""


OWN_PROCESS_ROLES = ("projectors",)
"""Roles that get a child process each: the projectors keep `event_log` and the read models up with
ingest, so they do not share a core's event loop with the evaluator's and poller's per-event work."""


OTHERS_NICENESS = 5
"""The other roles' child runs at this lower CPU priority: on a saturated machine the webhook answers
and the projection go first, and decisions, Slack and Ashby calls (which wait seconds anyway: quiet
periods, Ashby's budget) catch up once the burst is over. With a core to spare it changes nothing."""


def process_groups(role_names: list[str]) -> list[list[str]]:
    """The child processes for `role_names`: one per role of OWN_PROCESS_ROLES, one for the rest
    (so the Ashby callers, executor, notifier and poller, still share one request budget)."""
    groups = [[role] for role in role_names if role in OWN_PROCESS_ROLES]
    rest = [role for role in role_names if role not in OWN_PROCESS_ROLES]
    return groups + ([rest] if rest else [])


def niceness(role_names: list[str]) -> int:
    return 0 if all(role in OWN_PROCESS_ROLES for role in role_names) else OTHERS_NICENESS


def _stop_with_parent(parent: int) -> None:
    """SIGTERM when the dev process dies, even by SIGKILL (Linux), so no orphan keeps consuming."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux: stopped by the parent only
        return
    if os.getppid() != parent:  # it died before that took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _child(settings: Settings, role_names: list[str], parent: int) -> None:
    """The child's body: the worker roles, as `autoadvance worker` runs one (no migrations: done)."""
    from runtime.cli import _run, _serve
    from runtime.logging import configure_logging

    _stop_with_parent(parent)
    if increment := niceness(role_names):
        os.nice(increment)
    # Ctrl-C in the terminal reaches every process of its group; the parent decides when the child
    # stops (after HTTP), so the child stops on the parent's SIGTERM only.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by `start`: now ignored
    configure_logging(settings.log_format, settings.log_level)
    _run(_serve(settings, http=False, role_names=role_names, run_migrations=False,
                stop_signals=(signal.SIGTERM,)))


@dataclass
class WorkerProcess:
    """One spawned child running `role_names`; `exited` resolves to its exit code when it ends."""

    settings: Settings
    role_names: list[str]
    _proc: Any = field(default=None, repr=False)
    exited: asyncio.Future[int] | None = field(default=None, repr=False)

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        # SIGINT blocked while it starts: a Ctrl-C during its imports (before it ignores SIGINT)
        # waits, blocked, and is then ignored, instead of a KeyboardInterrupt traceback
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self._proc = ctx.Process(target=_child, args=(self.settings, self.role_names, os.getpid()),
                                     name=f"autoadvance-{'-'.join(self.role_names)}", daemon=True)
            self._proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        loop = asyncio.get_running_loop()
        self.exited = loop.create_future()
        loop.add_reader(self._proc.sentinel, self._on_exit)
        log.info("worker_process_started", roles=self.role_names, pid=self._proc.pid, nice=niceness(self.role_names))

    def _on_exit(self) -> None:
        asyncio.get_running_loop().remove_reader(self._proc.sentinel)
        self._proc.join(1)
        if self.exited is not None and not self.exited.done():
            self.exited.set_result(self._proc.exitcode if self._proc.exitcode is not None else -1)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def stop(self) -> int | None:
        """SIGTERM, then wait for it (SIGKILL after STOP_TIMEOUT_S); its exit code."""
        if self._proc is None or self.exited is None:
            return None
        if not self.exited.done():
            self._proc.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("worker_process_killed", pid=self._proc.pid, after_s=STOP_TIMEOUT_S)
                self._proc.kill()
                await asyncio.wait_for(asyncio.shield(self.exited), 5)
        return self.exited.result()

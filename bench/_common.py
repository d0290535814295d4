"""Shared pieces of bench/ingest.py and bench/project.py: embedded servers in a temp folder, the
service started as its own `autoadvance` process, generated ~1 KB schedule webhooks, RESULT lines."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runtime.embedded import EmbeddedNats, EmbeddedPostgres, free_port  # noqa: E402

WEBHOOK_SECRET = "bench-webhook-secret"
ADMIN_TOKEN = "bench-admin-token"


def result(name: str, value: float, unit: str) -> None:
    print(f"RESULT {name} {value:.4g} {unit}" if value < 1000 else f"RESULT {name} {value:.0f} {unit}", flush=True)


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def schedule_webhook(n: int, *, apps: int = 5000) -> dict:
    """A realistic `interviewScheduleUpdate` (about 1.3 KB as JSON) with a unique webhookActionId."""
    app = f"app-{n % apps:06d}"
    sched = f"sched-{app}-{n % 3}"
    updated = f"2026-11-01T10:{(n // apps) % 60:02d}:{n % 60:02d}.000Z"
    people = [f"user-{(n + i) % 300}" for i in range(2)]
    return {
        "action": "interviewScheduleUpdate",
        "webhookActionId": f"bench-{n:09d}",
        "data": {"interviewSchedule": {
            "id": sched, "status": "Scheduled" if n % 4 else "WaitingOnFeedback", "applicationId": app,
            "interviewStageId": f"stage-{n % 4}", "candidateId": f"cand-{app}",
            "createdAt": "2026-11-01T09:00:00.000Z", "updatedAt": updated,
            "interviewEvents": [{
                "id": f"ev-{sched}", "interviewId": f"interview-{n % 4}", "interviewScheduleId": sched,
                "interviewerUserIds": people,
                "interviewers": [{"id": p, "firstName": "A", "lastName": "B", "email": f"{p}@example.com",
                                  "globalRole": "Interviewer", "isEnabled": True, "updatedAt": updated,
                                  "trainingRole": None, "interviewerPool": None, "isFeedbackRequired": True}
                                 for p in people],
                "startTime": "2026-11-02T10:00:00.000Z", "endTime": "2026-11-02T11:00:00.000Z",
                "createdAt": "2026-11-01T09:00:00.000Z", "updatedAt": updated,
                "feedbackLink": "https://app.ashbyhq.com/feedback", "location": None, "meetingLink": None,
                "hasSubmittedFeedback": False,
            }],
        }},
    }


def webhook_body(n: int) -> bytes:
    return orjson.dumps(schedule_webhook(n))


@dataclass
class Infra:
    folder: Path
    nats: EmbeddedNats
    pg: EmbeddedPostgres

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"NATS_URL": self.nats.url, "DATABASE_URL": self.pg.url, "DATA_DIR": str(self.folder / "data"),
                    "ASHBY_WEBHOOK_SECRET": WEBHOOK_SECRET, "ADMIN_API_TOKEN": ADMIN_TOKEN,
                    "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"})
        env.update(extra)
        return env


@contextmanager
def embedded_infra(prefix: str, *, sync_interval: str = "2m"):
    """A fresh nats-server (JetStream, fsync every `sync_interval` or `always`) and PostgreSQL in a
    temp folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    nats = pg = None
    try:
        nats = EmbeddedNats(folder / "nats", sync_interval=sync_interval).start()
        pg = EmbeddedPostgres(folder / "pg").start()
        yield Infra(folder, nats, pg)
    finally:
        if nats is not None:
            nats.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def autoadvance_command() -> list[str]:
    exe = Path(sys.executable).parent / "autoadvance"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "runtime.cli"]


@contextmanager
def service_process(args: list[str], env: dict[str, str], log_path: Path, profile: str | None = None):
    """`autoadvance <args>` as a child process (as in production); SIGTERM and wait on exit.

    With `profile`, it runs under cProfile and writes its stats there on exit."""
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child
    command = autoadvance_command() if not profile else [sys.executable, "-m", "cProfile", "-o", profile,
                                                          "-m", "runtime.cli"]
    proc = subprocess.Popen(command + args, env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=str(ROOT))
    log.close()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def wait_http(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout}s:\n{log_path.read_text()[-3000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), 0.0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc), e.g. a supervisor and its worker processes."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError):
            pass
    return out


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc), 0 where unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle or waiting on I/O) since boot (Linux /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


__all__ = ["ADMIN_TOKEN", "WEBHOOK_SECRET", "EmbeddedNats", "EmbeddedPostgres", "Infra", "cpu_seconds",
           "embedded_infra", "free_port", "machine_busy_seconds", "percentile", "process_tree", "rss_bytes", "result", "service_process", "sign", "wait_http", "webhook_body"]

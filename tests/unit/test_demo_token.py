"""`autoadvance demo` against a service that refuses its admin token: one clear line, never the token."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from runtime.demo import run_demo
from runtime.devsandbox import SANDBOX_FILE
from runtime.settings import Settings


class _RefusingService(BaseHTTPRequestHandler):
    """Healthy, but every /api/ request is 401, as a service started with another token answers."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.seen.append(self.path)
        status, body = (200, b'{"ok":true}') if self.path == "/health" else (401, b'{"error":"unauthorized"}')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def refusing_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _RefusingService.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _old_data_dir(tmp_path: Path, service: str) -> Path:
    (tmp_path / SANDBOX_FILE).write_bytes(orjson.dumps({"http": service, "ashby": service, "slack": service}))
    (tmp_path / "admin_token").write_text("stale-token-from-an-old-run\n")
    return tmp_path


async def test_a_stale_admin_token_file_exits_non_zero_naming_the_file_and_not_the_token(
        tmp_path, refusing_service, capsys):
    data_dir = _old_data_dir(tmp_path, refusing_service)

    assert await run_demo(Settings(data_dir=data_dir), as_json=False, timeout=5) == 2

    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1
    assert f"the running service at {refusing_service} refused the admin token read from " \
           f"{(data_dir / 'admin_token').resolve()}" in lines[0]
    assert "ADMIN_API_TOKEN" in lines[0] and "DATA_DIR/admin_token" in lines[0]
    assert "stale-token" not in captured.err + captured.out
    assert not any(path.startswith("/_sandbox") for path in _RefusingService.seen)  # nothing loaded first


async def test_admin_api_token_from_the_environment_is_preferred_and_named_when_refused(
        tmp_path, refusing_service, capsys):
    data_dir = _old_data_dir(tmp_path, refusing_service)
    settings = Settings(data_dir=data_dir, admin_api_token=SecretStr("env-token-also-wrong"))

    assert await run_demo(settings, as_json=True, timeout=5) == 2

    captured = capsys.readouterr()
    assert "refused the admin token read from ADMIN_API_TOKEN" in captured.err
    assert "env-token" not in captured.err + captured.out


async def test_no_admin_token_anywhere_says_which_one_is_needed_without_making_one_up(tmp_path, refusing_service,
                                                                                       capsys):
    (tmp_path / SANDBOX_FILE).write_bytes(orjson.dumps(
        {"http": refusing_service, "ashby": refusing_service, "slack": refusing_service}))

    assert await run_demo(Settings(data_dir=tmp_path), as_json=False, timeout=5) == 2

    assert "set ADMIN_API_TOKEN to the token it was started with" in capsys.readouterr().err
    assert not (tmp_path / "admin_token").exists()
    assert _RefusingService.seen == []

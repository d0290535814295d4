"""Serving a sandbox's raw ASGI app with uvicorn on a free loopback port, inside the caller's loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
import uvicorn

Json = dict[str, Any]
Asgi = Callable[[Json, Any, Any], Awaitable[None]]


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the embedding process keeps Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AsgiServer:
    """`await start()` → root URL; `await stop()`."""

    def __init__(self, app: Asgi, name: str) -> None:
        self.app, self.name = app, name
        self.root_url = ""
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        config = uvicorn.Config(self.app, interface="asgi3", log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"the {self.name} server did not start")
            await asyncio.sleep(0.005)
        self.root_url = f"http://{host}:{sock.getsockname()[1]}"
        return self.root_url

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.wait([self._task], timeout=10)
        self._server, self._task = None, None


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


async def send_response(send: Any, status: int, doc: Any, extra: dict[str, str] | None = None) -> None:
    raw = doc.encode() if isinstance(doc, str) else orjson.dumps(doc)
    content_type = b"text/plain" if isinstance(doc, str) else b"application/json; charset=utf-8"
    headers = [(b"content-type", content_type), *((k.encode(), v.encode()) for k, v in (extra or {}).items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})

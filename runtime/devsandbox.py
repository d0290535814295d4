"""`autoadvance dev` without credentials: sandbox Ashby and sandbox Slack in the same process.

With no `ASHBY_API_KEY` the Ashby client talks to a sandbox Ashby, which delivers its signed
webhooks to our own `/webhooks/ashby`; with no `SLACK_BOT_TOKEN` the notifier talks to a sandbox
Slack whose simulated clicks are signed with the secret we verify. Where they listen is written to
`DATA_DIR/sandbox.json` (for `autoadvance demo`). Their state lives in memory only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog
from pydantic import SecretStr

from runtime.settings import Settings

log = structlog.get_logger(__name__)
SANDBOX_FILE = "sandbox.json"


@dataclass
class DevSandboxes:
    ashby: Any = None
    slack: Any = None
    file: Path | None = None
    info: dict[str, str] = field(default_factory=dict)

    async def stop(self) -> None:
        for sandbox in (self.ashby, self.slack):
            if sandbox is not None:
                await sandbox.stop()
        if self.file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.file.unlink()


SANDBOX_ARCHIVE_DELAY_S = 20.0
"""ARCHIVE_DELAY when Ashby is the sandbox and it is not set: long enough to click Undo, short enough for
`autoadvance demo` to show the archive reach Ashby (the default for a real Ashby is 5 minutes)."""


async def start_sandboxes(settings: Settings) -> tuple[Settings, DevSandboxes]:
    """Start the sandboxes whose credentials are missing; the settings that point at them."""
    sandboxes = DevSandboxes()
    updates: dict[str, Any] = {}
    if not settings.secret("ashby_api_key"):
        from sandbox.ashby import SandboxAshby
        from sandbox.ashby_limit import RateLimit

        limit = settings.sandbox_ashby_rate_limit_per_s
        sandboxes.ashby = SandboxAshby(page_size=25, rate_limit=RateLimit(limit) if limit > 0 else None)
        url = await sandboxes.ashby.start(settings.http_host)
        updates |= {"ashby_api_url": url, "ashby_api_key": SecretStr(sandboxes.ashby.api_key)}
        sandboxes.info["ashby"] = url
        if "archive_delay" not in settings.model_fields_set:  # the demo shows the window without a 5-minute wait
            updates["archive_delay"] = SANDBOX_ARCHIVE_DELAY_S
        log.warning("sandbox_ashby_started", url=url, reason="ASHBY_API_KEY is not set: Ashby calls go to the sandbox")
    if not settings.secret("slack_bot_token"):
        from sandbox.slack import SandboxSlack

        sandboxes.slack = SandboxSlack()
        base = await sandboxes.slack.start(settings.http_host)
        updates |= {"slack_api_url": base, "slack_bot_token": SecretStr(sandboxes.slack.token),
                    "slack_signing_secret": SecretStr(sandboxes.slack.signing_secret)}
        sandboxes.info["slack"] = sandboxes.slack.root_url
        log.warning("sandbox_slack_started", url=base, reason="SLACK_BOT_TOKEN is not set: Slack calls go to the sandbox")
    return (settings.model_copy(update=updates) if updates else settings), sandboxes


def connect_webhooks(sandboxes: DevSandboxes, settings: Settings, webhook_secret: str) -> None:
    """Point the sandbox Ashby's webhooks at our endpoint and record where everything listens."""
    http_url = f"http://{settings.http_host}:{settings.http_port}"
    if sandboxes.ashby is not None:
        sandboxes.ashby.webhook_url = f"{http_url}/webhooks/ashby"
        sandboxes.ashby.webhook_secret = webhook_secret
    if sandboxes.info:
        sandboxes.file = settings.data_dir.resolve() / SANDBOX_FILE
        sandboxes.file.parent.mkdir(parents=True, exist_ok=True)
        doc = {**sandboxes.info, "http": http_url, "pid": os.getpid(), "archive_delay_s": settings.archive_delay}
        sandboxes.file.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))


def read_sandbox_file(data_dir: Path) -> dict[str, Any] | None:
    path = data_dir.resolve() / SANDBOX_FILE
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None

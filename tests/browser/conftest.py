"""Browser tests: the real service (embedded NATS + Postgres, sandbox Ashby and Slack, the demo's
candidates) driven by headless Chromium through Playwright. The system browser is used (Debian's
`chromium`, or BROWSER_EXECUTABLE); without one every test here is skipped with the reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from browser_support import VIEWER_TOKEN, Console, Watched, open_page
from runtime.embedded import EmbeddedNats
from support import Infra, fresh_database, running_service


def browser_executable() -> str | None:
    given = os.environ.get("BROWSER_EXECUTABLE")
    if given:
        return given
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    executable = browser_executable()
    if executable is None:
        pytest.skip("no Chromium on this machine (install the Debian package `chromium`, which `make test` does "
                    "when run as root with apt, or set BROWSER_EXECUTABLE)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the Python package playwright is not installed (it is a dev dependency: pip install -e '.[dev]')")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
async def console(postgres_admin_url: str, tmp_path_factory: pytest.TempPathFactory,
                  browser: Any) -> AsyncIterator[Console]:
    import json

    from runtime.demo import run_demo
    from runtime.devsandbox import DevSandboxes, connect_webhooks
    from sandbox.ashby import SandboxAshby
    from sandbox.slack import SandboxSlack

    root = tmp_path_factory.mktemp("console")
    nats_server = EmbeddedNats(root / "nats").start()
    ashby = SandboxAshby(webhook_retry_delays=(0.05, 0.1, 0.2, 0.5, 1))
    slack = SandboxSlack()
    await ashby.start()
    await slack.start()
    infra = Infra(nats_server.url, await fresh_database(postgres_admin_url), nats_server, None, root / "data")
    try:
        async with running_service(infra, ashby_api_url=ashby.base_url, ashby_api_key=ashby.api_key,
                                   slack_api_url=slack.base_url, slack_bot_token=slack.token,
                                   slack_signing_secret=slack.signing_secret, viewer_api_token=VIEWER_TOKEN) as svc:
            dev = DevSandboxes(ashby=ashby, slack=slack, info={"ashby": ashby.root_url, "slack": slack.root_url})
            connect_webhooks(dev, svc.settings, svc.settings.secret("ashby_webhook_secret"))
            import contextlib
            import io

            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                assert await run_demo(svc.settings, as_json=True, timeout=90) == 0
            text = out.getvalue()
            summary = json.loads(text[text.index('{\n  "ok"'):])
            candidates = {c["outcome"]: c["application_id"] for c in summary["candidates"]}
            yield Console(svc, str(svc.client.base_url), candidates)
    finally:
        await slack.stop()
        await ashby.stop()
        nats_server.stop()


@pytest.fixture
async def admin_page(browser: Any, console: Console) -> AsyncIterator[Watched]:
    context, watched = await open_page(browser, console)
    yield watched
    await context.close()
    assert not watched.errors, watched.errors


@pytest.fixture
async def viewer_page(browser: Any, console: Console) -> AsyncIterator[Watched]:
    context, watched = await open_page(browser, console, token=VIEWER_TOKEN)
    yield watched
    await context.close()
    assert not watched.errors, watched.errors

"""What the browser tests share: the running console, a page whose errors fail the test, screenshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support import ADMIN_TOKEN, Running

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
VIEWER_TOKEN = "test-viewer-token"


@dataclass
class Console:
    """The running service with the demo's two candidates decided, and where the console is."""

    svc: Running
    url: str
    candidates: dict[str, str] = field(default_factory=dict)  # outcome → application id


class Watched:
    """A page whose console errors and uncaught exceptions fail the test."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    async def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def open_page(browser: Any, console: Console, *, token: str = ADMIN_TOKEN, phone: bool = False,
                    sign_in: bool = True) -> tuple[Any, Watched]:
    options: dict[str, Any] = {"base_url": console.url}
    if phone:
        options.update(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
    else:
        options.update(viewport={"width": 1280, "height": 900})
    context = await browser.new_context(**options)
    page = await context.new_page()
    watched = Watched(page)
    if sign_in:
        await page.goto("/ui/login")
        await page.fill("#token", token)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/ui/**")
    return context, watched

"""Operations in headless Chromium. The pause switch: an admin pauses every effect from the console,
every page shows the banner, the admin resumes; a viewer's attempt is refused (the plain-HTTP 403
page is checked in tests/integration/test_pause.py). The rendered AsyncAPI page, offline."""

from __future__ import annotations

from playwright.async_api import expect

from browser_support import Console, Watched


async def test_an_admin_pauses_and_resumes_effects_and_every_page_shows_the_banner(admin_page: Watched,
                                                                                   console: Console) -> None:
    page = admin_page.page
    await page.goto("/ui/rules")
    await expect(page.locator("#paused-banner")).to_have_count(0)
    await page.fill("#pause-switch input[name=reason]", "browser check")
    await page.click("#pause-button")
    await page.wait_for_url("**/ui/rules")
    banner = page.locator("#paused-banner")
    await expect(banner).to_contain_text("Effects are paused")
    await expect(banner).to_contain_text("browser check")
    for path in ("/ui/", "/ui/pending", "/ui/health", f"/ui/applications/{console.candidates['advanced']}"):
        await page.goto(path)
        await expect(page.locator("#paused-banner")).to_contain_text("Effects are paused")
    await expect(page.locator("#effects-state")).to_have_count(0)  # the story page has no health card
    await page.goto("/ui/health")
    await expect(page.locator("#effects-state")).to_contain_text("paused since")
    state = (await console.svc.client.get("/api/pause")).json()
    assert state["paused"] is True and state["reason"] == "browser check"
    await admin_page.shot("console-paused")
    await page.click("#resume-button")
    await page.wait_for_url("**/ui/health")
    await expect(page.locator("#paused-banner")).to_have_count(0)
    await expect(page.locator("#effects-state")).to_have_text("running")
    assert (await console.svc.client.get("/api/pause")).json()["paused"] is False


async def test_a_viewer_who_presses_pause_is_refused(viewer_page: Watched, console: Console) -> None:
    page = viewer_page.page
    await page.goto("/ui/health")
    async with page.expect_response("**/ui/pause") as answer:
        await page.click("#pause-button")
    assert (await answer.value).headers.get("x-console-status") == "403"  # htmx swaps 2xx only (docs/console.md)
    await expect(page.locator("#pause-result")).to_contain_text("needs the admin role")
    await viewer_page.shot("console-pause-refused")
    assert (await console.svc.client.get("/api/pause")).json()["paused"] is False


async def test_the_asyncapi_page_renders_offline_from_assets_the_service_serves(admin_page: Watched,
                                                                               console: Console) -> None:
    page = admin_page.page
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((console.url, "data:")) else None)
    await page.goto("/asyncapi")
    await expect(page.locator("#asyncapi")).to_contain_text("auto-advance messages", timeout=30_000)
    await expect(page.locator("#asyncapi")).to_contain_text("executor-ashby-v1")
    assert not outside, outside
    await admin_page.shot("asyncapi")

"""/ui/replays in headless Chromium against the real service with the demo's candidates: a what-if
with a stricter rule set, watched through its progress bar to the changed decisions (linking to the
story, stages by title), a fidelity check, and a viewer refused starting one."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import expect

from browser_support import Console, Watched, open_page


async def stricter_rules(console: Console) -> str:
    """The active rule set with the first requirement's threshold raised to 4: the demo's advanced
    candidate (scores 4 and 3) would have been proposed for rejection instead."""
    active = (await console.svc.client.get("/api/rulesets")).json()
    document = active["rulesets"][0]["document"]
    rule = document["rules"][0]
    stricter = {**document, "name": "Stricter", "rules": [
        {**rule, "requirements": [{**rule["requirements"][0], "threshold": 4}, *rule["requirements"][1:]]},
        *document["rules"][1:]]}
    return json.dumps(stricter, indent=2)


async def test_a_what_if_shows_its_progress_bar_finish_then_the_changed_decisions(admin_page: Watched,
                                                                                  console: Console) -> None:
    page = admin_page.page
    await page.goto("/ui/replays")
    await page.fill("#replay-document", await stricter_rules(console))
    await page.click("#start-replay button[type=submit]")
    bar = page.locator("#replay-run #replay-progress")
    await expect(bar).to_be_visible()
    run = page.locator("#replay-run")
    await expect(run).to_have_attribute("data-status", "done", timeout=60_000)
    assert await bar.get_attribute("value") == await bar.get_attribute("max")  # the bar reached its end
    await expect(run).to_contain_text("100%")
    changes = page.locator("#replay-changes")
    strong = console.candidates["advanced"]
    row = changes.locator("tr", has_text=strong)
    await expect(row).to_contain_text("changed")
    await expect(row.locator("td").nth(3)).to_have_text("advance")
    await expect(row.locator("td").nth(4)).to_have_text("propose_rejection")
    await expect(row.locator("td").nth(1)).to_have_text("Technical Interview")  # the stage's title, not its id
    await expect(page.locator("#stage-rates")).to_contain_text("Technical Interview")
    await expect(page.locator("#rule-rates")).to_contain_text("pass")
    await admin_page.shot("replay-what-if")
    await row.locator("a").click()
    await page.wait_for_url(f"**/ui/applications/{strong}")
    await page.goto("/ui/replays")
    past = page.locator("#past-replays")
    await expect(past).to_contain_text("1 changed")
    await past.locator("a").first.click()  # one past run's own page: its result again
    await expect(page.locator("#replay-changes")).to_contain_text(strong)


async def test_a_replay_result_fits_a_phone_screen(browser: Any, console: Console) -> None:
    context, watched = await open_page(browser, console, phone=True)
    page = watched.page
    try:
        await page.goto("/ui/replays")
        await page.fill("#replay-document", await stricter_rules(console))
        await page.click("#start-replay button[type=submit]")
        await expect(page.locator("#replay-run")).to_have_attribute("data-status", "done", timeout=60_000)
        # against the screen, not innerWidth: an emulated phone widens its layout viewport to the content
        overflow = await page.evaluate("document.documentElement.scrollWidth - screen.width")
        assert overflow <= 0, f"/ui/replays is {overflow}px wider than the phone"
        await watched.shot("replay-phone")
    finally:
        await context.close()
    assert not watched.errors, watched.errors


async def test_a_fidelity_check_reports_no_defect(admin_page: Watched) -> None:
    page = admin_page.page
    await page.goto("/ui/replays")
    await page.select_option("select[name=kind]", "verify")
    await page.click("#start-replay button[type=submit]")
    run = page.locator("#replay-run")
    await expect(run).to_have_attribute("data-status", "done", timeout=60_000)
    await expect(page.locator("#verify-summary")).to_contain_text("0 defects")
    await expect(run).to_contain_text("reproduces every recorded decision")
    await admin_page.shot("replay-verify")


async def test_a_viewer_sees_past_runs_but_is_refused_starting_one(viewer_page: Watched, console: Console) -> None:
    page = viewer_page.page
    before = len((await console.svc.client.get("/api/replays")).json())
    await page.goto("/ui/replays")
    await expect(page.locator("h1")).to_have_text("Replays")
    await page.select_option("select[name=kind]", "verify")
    await page.click("#start-replay button[type=submit]")
    await expect(page.locator("#replay-started")).to_contain_text("needs the admin role")
    assert len((await console.svc.client.get("/api/replays")).json()) == before

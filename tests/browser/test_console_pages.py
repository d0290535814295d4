"""The operator console in headless Chromium against the real service with the demo's candidates:
sign in, inbox, story, rules (broken upload, confirmed activation, diff), roles, paging, phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import expect

from browser_support import Console, Watched, open_page
from support import eventually

BROKEN_RULES = """name: Broken rules
rules:
  - id: technical-interview
    interview_plan_id: plan-1
    stage_id: stage-1
    requirements:
      - interview_id: interview-1
        field: overall_recommendation
        operator: "=>"
        threshold: 3
    on_fail:
      action: propose_rejection
      archive_reason_id: reason-1
"""


async def test_signing_in_shows_the_demo_candidates_in_the_inbox(admin_page: Watched, console: Console) -> None:
    page = admin_page.page
    await page.goto("/ui/")
    rows = page.locator("#decision-rows tr")
    await expect(rows.first).to_be_visible()
    for application_id in console.candidates.values():
        await expect(page.locator("#decision-rows")).to_contain_text(application_id)
    await expect(page.locator("#decision-rows")).to_contain_text("advance")
    await expect(page.locator("#decision-rows")).to_contain_text("propose_rejection")
    await expect(page.locator("header .role")).to_have_text("admin")
    await admin_page.shot("inbox-desktop")


async def test_the_inbox_filters_by_outcome(admin_page: Watched, console: Console) -> None:
    page = admin_page.page
    await page.goto("/ui/")
    await page.select_option("select[name=outcome]", "advance")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**outcome=advance**")
    body = page.locator("#decision-rows")
    await expect(body).to_contain_text(console.candidates["advanced"])
    await expect(body).not_to_contain_text("propose_rejection")


async def test_a_story_explains_each_requirement_with_its_values_and_threshold(admin_page: Watched,
                                                                               console: Console) -> None:
    page = admin_page.page
    weak = console.candidates["archived"]
    await page.goto("/ui/")
    await page.click(f"#decision-rows a:text-is('{weak}')")
    await page.wait_for_url(f"**/ui/applications/{weak}")
    story = page.locator("ol.timeline")
    await expect(story).to_contain_text("Decision: propose_rejection")
    explain = page.locator("table.explain").first
    await expect(explain).to_contain_text("overall_recommendation")
    await expect(explain).to_contain_text(">= 3")
    await expect(explain.locator(".badge.failed")).to_have_count(1)  # the requirement failed ...
    await expect(explain.locator(".bad")).to_have_count(1)  # ... on one interviewer's 1, the other's 3 passed
    await expect(story).to_contain_text("chose 'archive'")  # the recruiter's click in Slack
    await expect(page.locator("#slack")).to_contain_text("ProposeRejection")
    await expect(page.locator("#commands")).to_contain_text("ArchiveApplication")
    await admin_page.shot("story-desktop")


async def test_a_broken_rule_upload_shows_the_problem_at_its_line_and_activates_nothing(
        admin_page: Watched, console: Console) -> None:
    page = admin_page.page
    before = (await console.svc.client.get("/api/rulesets")).json()["active_version"]
    await page.goto("/ui/rules")
    await page.fill("#document", BROKEN_RULES)
    await page.click("#upload button[type=submit]")
    problems = page.locator("#validation .problems")
    await expect(problems).to_contain_text("rules[0].requirements[0].operator")
    await expect(problems).to_contain_text("unknown operator '=>'")
    await expect(problems.locator(".line")).to_have_text("line 9")
    await expect(problems.locator(".bad-line")).to_contain_text('operator: "=>"')
    await admin_page.shot("rules-invalid-upload")
    assert (await console.svc.client.get("/api/rulesets")).json()["active_version"] == before


async def test_activating_an_upload_confirms_what_changes_then_the_diff_shows_it(
        admin_page: Watched, console: Console) -> None:
    page = admin_page.page
    client = console.svc.client
    active = (await client.get("/api/rulesets")).json()
    before = active["active_version"]
    document = active["rulesets"][0]["document"]
    stricter = {**document, "rules": [{**document["rules"][0], "requirements": [
        {**document["rules"][0]["requirements"][0], "threshold": 4}]}]}
    import json

    await page.goto("/ui/rules")
    await page.fill("#document", json.dumps(stricter, indent=2))
    await page.click("#upload button[type=submit]")
    await expect(page.locator("#validation .valid")).to_contain_text("1 rule changed")
    await expect(page.locator("#validation .changes")).to_contain_text("requirements[0].threshold")
    asked: list[str] = []

    async def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    await page.click("#validation button.primary")
    await expect(page.locator("#validation .notice-ok")).to_contain_text(f"Activated as version {before + 1}")
    assert asked and "1 rule changed" in asked[0] and f"version {before}" in asked[0]

    async def live() -> bool:
        return (await client.get("/api/rulesets")).json()["active_version"] == before + 1

    await eventually(live, message="the activated version did not become live")
    await page.goto(f"/ui/rules?a={before}&b={before + 1}")
    diff = page.locator("#diff")
    await expect(diff).to_contain_text(f"v{before} → v{before + 1}: 1 rule changed")
    row = diff.locator("tr", has_text="requirements[0].threshold")
    await expect(row.locator("td.del")).to_have_text("3")
    await expect(row.locator("td.add")).to_have_text("4")
    await admin_page.shot("rules-diff")


async def test_a_viewer_reads_every_page_but_is_refused_admin_actions(viewer_page: Watched,
                                                                      console: Console) -> None:
    page = viewer_page.page
    strong = console.candidates["advanced"]
    await expect(page.locator("header .role")).to_have_text("viewer")
    await page.goto(f"/ui/applications/{strong}")
    await page.click("button:has-text('Re-evaluate now')")
    await expect(page.locator("#evaluate-result")).to_contain_text("needs the admin role")
    for path in ("/ui/pending", "/ui/rules", "/ui/health"):
        response = await page.goto(path)
        assert response is not None and response.status == 200, path
    events = (await console.svc.client.get("/api/events", params={"key": strong})).json()["events"]
    assert not [e for e in events if e["event_type"] == "EvaluationRequested"]  # nothing was requested


async def test_the_inbox_pages_through_older_decisions_without_repeating_any(admin_page: Watched,
                                                                             console: Console) -> None:
    page = admin_page.page
    base = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [(f"paging-{i:03d}", f"app-paging-{i:03d}", "stage-x", 1, "paging-rule", "advance", "shadow", False,
             None, None, "recorded", {}, base + timedelta(minutes=i)) for i in range(120)]
    async with console.svc.services.pool.acquire() as conn:
        await conn.executemany(
            """INSERT INTO evaluator_decisions (decision_id, application_id, stage_id, rule_set_version, rule_id,
                   outcome, mode, dry_run, command_id, command_type, status, explanation, decided_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""", rows)
    await page.goto("/ui/?stage=stage-x")
    links = page.locator("#decision-rows td:nth-child(3) a")
    await expect(links).to_have_count(50)
    await page.click("text=Older decisions")
    await expect(links).to_have_count(100)
    await page.click("text=Older decisions")
    await expect(links).to_have_count(120)
    await expect(page.locator("text=Older decisions")).to_have_count(0)
    seen = await links.all_inner_texts()
    assert seen == [f"app-paging-{i:03d}" for i in reversed(range(120))]  # newest first, each once


async def test_pending_and_health_pages_answer(admin_page: Watched) -> None:
    page = admin_page.page
    await page.goto("/ui/pending")
    await expect(page.locator("h1")).to_contain_text("Waiting")
    await page.goto("/ui/health")
    await expect(page.locator("h1 .badge")).to_have_text("ok")
    await expect(page.locator("body")).to_contain_text("evaluator")


async def test_the_console_fits_a_phone_screen(browser: Any, console: Console) -> None:
    context, watched = await open_page(browser, console, phone=True)
    page = watched.page
    try:
        for path, name in (("/ui/", "inbox-phone"), (f"/ui/applications/{console.candidates['archived']}",
                                                     "story-phone"), ("/ui/health", "health-phone")):
            await page.goto(path)
            # against the screen, not innerWidth: an emulated phone widens its layout viewport to the content
            overflow = await page.evaluate("document.documentElement.scrollWidth - screen.width")
            assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
            await watched.shot(name)
    finally:
        await context.close()
    assert not watched.errors, watched.errors


async def test_signing_out_ends_the_session(browser: Any, console: Console) -> None:
    context, watched = await open_page(browser, console)
    page = watched.page
    try:
        await page.goto("/ui/rules")
        await page.click("text=Sign out")
        await page.wait_for_url("**/ui/login")
        await page.goto("/ui/rules")
        await expect(page.locator("h1")).to_have_text("Sign in")
        assert not [c for c in await context.cookies() if c["name"] == "aa_session"]
    finally:
        await context.close()
    assert not watched.errors, watched.errors

"""/ui/replays for plain HTTP clients: a viewer is refused starting one (403 page), a broken rule set
is a 400 naming the problem and starts nothing, and an admin's run is stored, polled to done through
its progress fragment and listed."""

from __future__ import annotations

import httpx

from support import eventually, running_service

VIEWER = "viewer-token-for-replays"
BROKEN = "name: Broken\nrules:\n  - id: r1\n    interview_plan_id: p\n    stage_id: s\n    requirements: []\n"


def csrf_of(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


async def test_a_viewer_sees_replays_but_starting_one_is_refused_with_a_page(infra) -> None:
    async with running_service(infra, roles=["projectors", "evaluator"], viewer_api_token=VIEWER) as svc:
        async with httpx.AsyncClient(base_url=str(svc.client.base_url)) as browser:
            await browser.post("/ui/login", data={"token": VIEWER})
            page = await browser.get("/ui/replays")
            assert page.status_code == 200 and "Past runs" in page.text
            refused = await browser.post("/ui/replays", data={"csrf_token": csrf_of(page.text), "kind": "verify"})
            assert refused.status_code == 403 and "needs the admin role" in refused.text
            assert "<h1>Not allowed</h1>" in refused.text
        assert (await svc.client.get("/api/replays")).json() == []  # nothing was started


async def test_a_broken_rule_set_is_a_400_that_names_the_problem_and_starts_nothing(infra) -> None:
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        response = await svc.client.post("/ui/replays", data={"kind": "what-if", "source": "upload",
                                                              "document": BROKEN})
        assert response.status_code == 400
        assert "nothing was started" in response.text and "rules.rules[0].requirements" in response.text
        assert (await svc.client.get("/api/replays")).json() == []


async def test_an_admin_run_goes_from_its_progress_bar_to_its_result_and_is_listed(infra) -> None:
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        started = await svc.client.post("/ui/replays", data={"kind": "verify", "until": "2030-01-01"},
                                        headers={"HX-Request": "true"})
        assert started.status_code == 202 and 'id="replay-progress"' in started.text
        replay_id = started.text.split('/ui/replays/', 1)[1].split('"', 1)[0].removesuffix("/progress")
        row = (await svc.client.get(f"/api/replays/{replay_id}")).json()
        assert row["request"]["started_by"] == "console" and row["events_total"] == 0

        async def finished() -> str | None:
            fragment = (await svc.client.get(f"/ui/replays/{replay_id}/progress")).text
            return fragment if 'data-status="done"' in fragment else None

        fragment = await eventually(finished, message="the replay did not finish")
        assert "hx-trigger" not in fragment  # a finished run stops polling
        assert "Verify: 0 recorded decisions" in fragment and "0 defects" in fragment
        listing = (await svc.client.get("/ui/replays")).text
        assert replay_id[:12] in listing and "verify: 0 defects in 0 decisions" in listing
        assert (await svc.client.get("/ui/replays/never-started")).status_code == 404


async def test_pending_pages_through_every_waiting_application_once_overdue_first(infra) -> None:
    import re
    from datetime import UTC, datetime, timedelta

    base = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [(f"app-wait-{i:03d}", "stage-w", "rule-w", [{"kind": "feedback", "detail": "waiting"}],
             None if i % 4 == 0 else base + timedelta(minutes=i % 7), base) for i in range(130)]
    expected = [r[0] for r in sorted(rows, key=lambda r: (r[4] is None, r[4] or base, r[0]))]
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        async with svc.services.pool.acquire() as conn:
            await conn.executemany("""INSERT INTO evaluator_pending (application_id, stage_id, rule_id, waiting_for,
                                      fire_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)""", rows)
            await conn.execute("INSERT INTO interview_stages (stage_id, interview_plan_id, title, stream_seq) "
                               "VALUES ('stage-w', 'plan-w', 'Take-home review', 1)")
        page = (await svc.client.get("/ui/pending")).text
        assert '<span class="count">130</span>' in page and "Take-home review" in page
        seen = re.findall(r">(app-wait-\d+)</a>", page)
        while 'hx-get="/ui/pending?' in page:
            url = "/ui/pending?" + page.split('hx-get="/ui/pending?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
            page = (await svc.client.get(url, headers={"HX-Request": "true"})).text
            seen += re.findall(r">(app-wait-\d+)</a>", page)
        assert seen == expected
        assert (await svc.client.get("/ui/pending?after=nonsense")).status_code == 400

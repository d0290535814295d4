"""The console's pages for plain HTTP clients: sign-in redirects, bearer tokens, the session cookie,
CSRF on actions, and the viewer role on the console and the JSON API."""

from __future__ import annotations

import httpx

from support import ADMIN_TOKEN, eventually, running_service

VIEWER = "viewer-token-for-http"


async def test_signed_out_pages_redirect_to_sign_in_and_a_bearer_token_reads_them(infra) -> None:
    async with running_service(infra, roles=["projectors", "evaluator"], viewer_api_token=VIEWER) as svc:
        async with httpx.AsyncClient(base_url=str(svc.client.base_url)) as anon:
            for path in ("/ui/", "/ui/pending", "/ui/rules", "/ui/health", "/ui/applications/x"):
                response = await anon.get(path)
                assert response.status_code == 303 and response.headers["location"].startswith("/ui/login"), path
            response = await anon.get("/ui/pending", headers={"Authorization": f"Bearer {VIEWER}"})
            assert response.status_code == 200 and "Waiting" in response.text
            assert (await anon.get("/ui/", headers={"Authorization": "Bearer wrong"})).status_code == 303
        assert (await svc.client.get("/ui/applications/never-seen")).status_code == 404


async def test_a_session_cookie_signs_in_and_actions_need_its_csrf_token(infra) -> None:
    async with running_service(infra, roles=["projectors", "evaluator"], viewer_api_token=VIEWER) as svc:
        async with httpx.AsyncClient(base_url=str(svc.client.base_url)) as browser:
            refused = await browser.post("/ui/login", data={"token": "nope"})
            assert refused.status_code == 401 and "not the admin or the viewer token" in refused.text
            signed = await browser.post("/ui/login", data={"token": ADMIN_TOKEN, "next": "//evil.example/"})
            assert signed.status_code == 303 and signed.headers["location"] == "/ui/"
            cookie = signed.headers["set-cookie"].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie and ADMIN_TOKEN not in cookie
            assert (await browser.get("/ui/rules")).status_code == 200
            no_csrf = await browser.post("/ui/applications/app-1/evaluate", data={})
            assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
            page = (await browser.get("/ui/rules")).text
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            done = await browser.post("/ui/applications/app-1/evaluate", data={"csrf_token": token})
            assert done.status_code == 202 and "Evaluation requested" in done.text

        async def logged() -> list[str]:
            events = (await svc.client.get("/api/events", params={"key": "app-1"})).json()["events"]
            return [e["event_type"] for e in events]

        assert await eventually(logged, message="the requested evaluation is not in the log") == ["EvaluationRequested"]


async def test_the_viewer_token_reads_the_json_api_and_is_refused_writes(infra) -> None:
    async with running_service(infra, roles=["projectors", "evaluator"], viewer_api_token=VIEWER) as svc:
        viewer = {"Authorization": f"Bearer {VIEWER}"}
        assert (await svc.client.get("/api/rulesets", headers=viewer)).status_code == 200
        refused = await svc.client.post("/api/applications/app-1/evaluate", headers=viewer)
        assert refused.status_code == 403 and "read-only" in refused.text
        assert (await svc.client.get("/api/rulesets", headers={"Authorization": "Bearer x"})).status_code == 401
        async with httpx.AsyncClient(base_url=str(svc.client.base_url)) as browser:
            await browser.post("/ui/login", data={"token": VIEWER})
            page = (await browser.get("/ui/rules")).text
            token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            refused_page = await browser.post("/ui/rules/activate", data={"csrf_token": token, "document": "x"})
            assert refused_page.status_code == 403 and "needs the admin role" in refused_page.text

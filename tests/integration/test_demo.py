"""`autoadvance demo` against a running service with sandboxes, as a user would run it after `make run`."""

from __future__ import annotations

import json

from runtime.demo import run_demo
from runtime.devsandbox import DevSandboxes, connect_webhooks
from support import running_service


async def test_demo_walks_both_candidates_to_their_outcomes(infra, sandbox_ashby, sandbox_slack, capsys):
    async with running_service(infra, ashby_api_url=sandbox_ashby.base_url, ashby_api_key=sandbox_ashby.api_key,
                               slack_api_url=sandbox_slack.base_url, slack_bot_token=sandbox_slack.token,
                               slack_signing_secret=sandbox_slack.signing_secret, archive_delay=0) as svc:
        dev = DevSandboxes(ashby=sandbox_ashby, slack=sandbox_slack,
                           info={"ashby": sandbox_ashby.root_url, "slack": sandbox_slack.root_url})
        connect_webhooks(dev, svc.settings, svc.settings.secret("ashby_webhook_secret"))
        capsys.readouterr()
        assert await run_demo(svc.settings, as_json=True, timeout=60) == 0
        out = capsys.readouterr().out  # unconfigured structlog in tests prints to stdout too
        summary = json.loads(out[out.index('{\n  "ok"'):])
        outcomes = {c["name"]: (c["outcome"], c["stage"]) for c in summary["candidates"]}
        assert outcomes == {"Sam Strong": ("advanced", "Onsite"), "Wes Weak": ("archived", "Archived")}
        for c in summary["candidates"]:
            assert sandbox_ashby.data["applications"][c["application_id"]]["status"] == (
                "Active" if c["outcome"] == "advanced" else "Archived")
            trail = (await svc.client.get("/api/events", params={"key": c["application_id"]})).json()
            assert trail  # the audit trail the summary points to exists
        # a second run (new candidates, same rules) works too
        assert await run_demo(svc.settings, as_json=True, timeout=60) == 0


async def test_demo_without_a_running_sandbox_says_what_to_do(tmp_path, capsys):
    from runtime.settings import Settings

    assert await run_demo(Settings(data_dir=tmp_path), as_json=False, timeout=1) == 2
    assert "make run" in capsys.readouterr().err

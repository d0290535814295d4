"""The API under a property-based fuzzer: schemathesis runs over our own OpenAPI against the live
service (embedded NATS and Postgres) with the admin token, and fails on any 5xx or a response that
breaks its schema. CI's budget is FUZZ_SECONDS (default 45 s); `make fuzz` runs it for longer."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from support import ADMIN_TOKEN, running_service

FUZZ_SECONDS = int(os.environ.get("FUZZ_SECONDS", "45"))


async def test_the_fuzzer_finds_no_server_error_and_no_response_that_breaks_the_schema(infra, tmp_path):
    async with running_service(infra, roles=["projectors", "evaluator"], slack_signing_secret="fuzz-secret") as svc:
        url = f"{svc.client.base_url}/schema/openapi.json"
        st = Path(sys.executable).with_name("st")
        proc = await asyncio.create_subprocess_exec(
            str(st), "run", url, "--checks", "not_a_server_error,response_schema_conformance",
            "--header", f"Authorization: Bearer {ADMIN_TOKEN}", "--max-time", str(FUZZ_SECONDS),
            "--workers", "1", "--generation-deterministic", "--no-color",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=FUZZ_SECONDS + 120)
        report = out.decode(errors="replace")
        assert proc.returncode == 0, report[-6000:]
        tested = re.search(r"Tested: (\d+)", report)
        cases = re.search(r"(\d+) generated, (\d+) passed", report)
        assert tested and int(tested.group(1)) >= 15, report[-3000:]  # every operation, webhook and Slack too
        assert cases and cases.group(1) == cases.group(2) and int(cases.group(1)) > 100, report[-3000:]

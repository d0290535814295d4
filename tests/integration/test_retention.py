"""Retention and the operator's erase command against real NATS + Postgres: a candidate last seen
longer ago than PII_RETENTION_DAYS is erased by the job (with a `CandidateErased` of reason
`retention`), `autoadvance erase` works through the admin API (and drops kept copies of refused
webhooks that name the candidate), an erased candidate's data arriving
later is never readable, and a process with another master key refuses to start."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import SecretStr

from contracts.pii import ERASED
from ingest.ashby_events import application_envelope
from runtime.app import open_services
from runtime.cli_privacy import run_erase
from runtime.erasure import retention_pass
from support import eventually, running_service


def info(app: str, candidate: str, name: str, email: str) -> dict:
    return {"id": app, "status": "Active", "updatedAt": datetime.now(UTC).isoformat(),
            "candidate": {"id": candidate, "name": name, "primaryEmailAddress": {"value": email, "type": "Personal",
                                                                                 "isPrimary": True}},
            "currentInterviewStage": {"id": "stage-screen", "interviewPlanId": "plan-1"}, "job": {"id": "job-1"},
            "hiringTeam": []}


async def logged_names(svc, app: str) -> list[str]:
    rows = await svc.fetch("SELECT payload FROM event_log WHERE key = $1 AND event_type = 'ApplicationSnapshotted'",
                           app)
    return [orjson.dumps(r["payload"]).decode() for r in rows]


async def test_retention_erases_candidates_not_seen_for_n_days_and_an_erased_candidate_stays_erased(infra, capsys):
    async with running_service(infra, roles=["projectors"]) as svc:
        vault = svc.services.publisher.vault
        now = datetime.now(UTC)
        await svc.services.publisher.publish_event(application_envelope(info("app-old", "cand-old", "Olwen Oldfield",
                                                                             "olwen@example.org"), now))
        await svc.services.publisher.publish_event(application_envelope(info("app-new", "cand-new", "Nia Newell",
                                                                             "nia@example.org"), now))
        await eventually(lambda: svc.fetchval("SELECT count(*) = 2 FROM event_log"), message="snapshots not logged")
        assert await vault.names(["cand-old", "cand-new"]) == {"cand-old": "Olwen Oldfield", "cand-new": "Nia Newell"}
        await svc.fetchval("UPDATE pii_candidates SET last_seen_at = now() - interval '31 days' "
                           "WHERE candidate_id = 'cand-old'")

        assert await retention_pass(svc.services, 30) == ["cand-old"]
        assert await vault.names(["cand-old", "cand-new"]) == {"cand-old": ERASED, "cand-new": "Nia Newell"}
        [erased] = await eventually(lambda: svc.fetch("SELECT payload FROM event_log WHERE event_type = 'CandidateErased'"),
                                    message="no CandidateErased")
        assert erased["payload"] == {"candidate_id": "cand-old", "erased_by": "retention", "reason": "retention"}
        assert await retention_pass(svc.services, 30) == []  # nothing left to do

        # new data about an erased candidate is never readable: no key is made for them again
        later = info("app-old", "cand-old", "Olwen Oldfield", "olwen@example.org") | {"status": "Archived"}
        await svc.services.publisher.publish_event(application_envelope(later, datetime.now(UTC)))
        await eventually(lambda: svc.fetchval("SELECT count(*) = 4 FROM event_log"), message="snapshot not logged")
        assert not any("Olwen" in text or "olwen@" in text for text in await logged_names(svc, "app-old"))
        assert await svc.fetchval("SELECT count(*) FROM pii_keys WHERE candidate_id = 'cand-old'") == 0

        # a refused delivery about the candidate is kept for inspection, until the candidate is erased
        refused = await svc.post_webhook({"action": "interviewScheduleUpdate",
                                          "data": {"interviewSchedule": {"candidateId": "cand-new",
                                                                         "note": "Nia Newell"}}})
        assert refused.status_code == 400
        assert await svc.fetchval("SELECT count(*) FROM rejected_webhooks") == 1

        # the operator's command, through the admin API
        args = argparse.Namespace(candidate="cand-new", by="dpo", url=str(svc.client.base_url))
        assert await asyncio.to_thread(run_erase, args, svc.settings) == 0
        assert "cand-new erased" in capsys.readouterr().out
        assert (await svc.client.get("/api/candidates/cand-new")).json()["name"] == ERASED
        assert await svc.fetchval("SELECT count(*) FROM rejected_webhooks") == 0
        bad = await svc.client.post("/api/candidates/bad%20id/erase")
        assert bad.status_code == 400
        await svc.services.publisher.publish_event(application_envelope(info("app-3", "cand-3", "Tess Third",
                                                                             "tess@example.org"), datetime.now(UTC)))

    other = svc.settings.model_copy(update={"pii_master_key": SecretStr("another-master-key-of-at-least-32-chars")})
    with pytest.raises(RuntimeError, match="PII_MASTER_KEY"):
        await open_services(other)

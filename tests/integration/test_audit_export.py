"""The audit export against the real thing: decisions made by the live evaluator and their effects,
read back from Postgres as hash-chained JSON Lines; `autoadvance audit verify` passes the file as
written and names the first bad line once one byte is edited or one line removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from contracts.envelope import Envelope
from contracts.events import CommandOutcome
from runtime import cli
from runtime.cli_privacy import export
from runtime.settings import Settings
from support import activate, eventually, publish, running_service, scenario


async def test_an_export_verifies_and_an_edited_byte_or_a_removed_line_is_found(infra, tmp_path, capsys):
    async with running_service(infra, roles=["projectors", "evaluator"]) as svc:
        await activate(svc, scenario.rules())
        await publish(svc, *scenario.catalog_events())
        for app in ("app-a1", "app-a2"):
            await publish(svc, scenario.snapshot(app), scenario.schedule(app),
                          scenario.feedback(app, "u1", {"score": 4}), scenario.feedback(app, "u2", {"score": 4}))
        decided = await eventually(lambda: svc.fetch("SELECT payload FROM event_log WHERE event_type = 'DecisionMade'"),
                                   timeout=30, message="no decisions")
        now = datetime.now(UTC)
        command_id = decided[0]["payload"]["command_id"]
        outcome = CommandOutcome(command_id=command_id, command_type="AdvanceApplication", application_id="app-a1",
                                 details={"to_stage_id": "stage-onsite"})
        await publish(svc, Envelope(event_id="succeeded-1", event_type="CommandSucceeded", key="app-a1",
                                    occurred_at=now, recorded_at=now, source="executor",
                                    payload=outcome.model_dump()))
        await eventually(lambda: svc.fetchval("SELECT count(*) FROM event_log WHERE event_type = 'CommandSucceeded'"),
                         message="the outcome was not logged")
        await eventually(lambda: _count(svc, "DecisionMade", 2), timeout=30, message="both decisions logged")

    settings = Settings(database_url=infra.database_url, data_dir=infra.data_dir)
    out = tmp_path / "audit.jsonl"
    assert await export(settings, now - timedelta(hours=1), now + timedelta(hours=1), str(out)) == 0
    lines = out.read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    types = [r.get("event_type") for r in records[:-1]]
    assert sorted(types) == ["CommandSucceeded", "DecisionMade", "DecisionMade", "RuleSetActivated"]
    assert "FeedbackSubmitted" not in types and "ApplicationSnapshotted" not in types  # facts, not decisions
    assert [r["stream_seq"] for r in records[:-1]] == sorted(r["stream_seq"] for r in records[:-1])
    assert records[-1]["record"] == "end" and records[-1]["records"] == 4
    assert cli.main(["audit", "verify", str(out)]) == 0
    assert "OK, 4 records" in capsys.readouterr().out

    edited = tmp_path / "edited.jsonl"
    data = bytearray(out.read_bytes())
    at = data.index(b'"advance"') + 2  # one byte of the second record's outcome
    data[at] = ord("x") if data[at] != ord("x") else ord("y")
    edited.write_bytes(bytes(data))
    line_of_edit = data[:at].count(b"\n") + 1
    assert cli.main(["audit", "verify", str(edited)]) == 1
    assert f"line {line_of_edit}:" in capsys.readouterr().err

    removed = tmp_path / "removed.jsonl"
    removed.write_bytes(b"".join(line + b"\n" for i, line in enumerate(lines) if i != 1))
    assert cli.main(["audit", "verify", str(removed)]) == 1
    assert "line 2:" in capsys.readouterr().err

    empty = tmp_path / "before.jsonl"  # nothing recorded in the range: still a verifiable file
    assert await export(settings, now - timedelta(days=9), now - timedelta(days=8), str(empty)) == 0
    assert cli.main(["audit", "verify", str(empty)]) == 0


async def _count(svc, event_type: str, n: int) -> bool:
    return await svc.fetchval("SELECT count(*) FROM event_log WHERE event_type = $1", event_type) >= n

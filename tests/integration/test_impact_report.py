"""Demographics imported from a CSV through the CLI, then impact tables over the decisions the live
evaluator made (JSON and CSV) and over both sides of a what-if; erasure by candidate and by import.
Real NATS and Postgres throughout."""

from __future__ import annotations

import asyncio
import csv
import io
import json

from runtime.cli import main
from support import ADMIN_TOKEN, activate, eventually, publish, running_service, scenario

APPS = [f"app-i{i:02d}" for i in range(12)]
VIEWER = "viewer-token-for-impact"
PASSING = {0, 1, 6, 7, 8, 9, 10, 11}
# apps 0-5 Female (0-2 race A, 3-5 race B), 6-10 Male race A, 11 not in the file (unknown)
CSV = "candidate_id,sex,race_ethnicity\n" + "".join(
    f"cand-{APPS[i]},{'Female' if i < 6 else 'Male'},{'A' if i < 3 or i >= 6 else 'B'}\n" for i in range(11))


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


def history() -> list:
    out = []
    for i, app in enumerate(APPS):
        score = 4 if i in PASSING else 1
        out += [scenario.snapshot(app), scenario.schedule(app), scenario.feedback(app, "u1", 4),
                scenario.feedback(app, "u2", score)]
    return out


async def decided(svc) -> bool:
    apps = await svc.fetchval("SELECT count(DISTINCT application_id) FROM evaluator_decisions")
    known = await svc.fetchval("SELECT count(*) FROM applications WHERE candidate_id IS NOT NULL")
    return apps == len(APPS) and known == len(APPS)


def by(report: dict, *names: str) -> dict:
    [group] = [g for g in report["groups"] if (g["stage_id"], g["rule_id"]) == ("stage-screen", "screen-rule")]
    [dim] = [d for d in group["dimensions"] if d["by"] == list(names)]
    return {"rows": {c["label"]: (c["n"], c["advanced"], c["selection_rate"], c["impact_ratio"], c["flagged"],
                                  c["too_small"]) for c in dim["categories"]},
            "unknown": (dim["unknown"]["n"], dim["unknown"]["advanced"]), "note": dim["note"]}


async def test_imported_categories_give_impact_tables_for_live_decisions_and_both_sides_of_a_what_if(
        infra, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ADMIN_API_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("DATABASE_URL", infra.database_url)
    monkeypatch.setenv("DATA_DIR", str(infra.data_dir))
    async with running_service(infra, roles=["projectors", "evaluator"], viewer_api_token=VIEWER) as svc:
        url = str(svc.client.base_url)
        seen: list[str] = []

        def printed() -> tuple[str, str]:
            """What was printed since the last call (CLI output and the service's log lines), kept."""
            got = capsys.readouterr()
            seen.append(got.out + got.err)
            return got.out, got.err
        await activate(svc, scenario.rules())
        await publish(svc, *scenario.catalog_events())
        await publish(svc, *history())
        await eventually(lambda: decided(svc), timeout=30, message="the evaluator did not decide every application")

        bad = tmp_path / "bad.csv"
        bad.write_text("candidate_id,sex\ncand-x,Female\n,Male\ncand-x,Male\n")
        assert await cli("demographics", "import", str(bad), "--url", url) == 1
        err = printed()[1]
        assert "line 3: candidate_id is empty" in err and "line 4: candidate cand-x is already on line 2" in err
        assert await svc.fetchval("SELECT count(*) FROM demographics") == 0
        good = tmp_path / "people.csv"
        good.write_text(CSV)
        assert await cli("demographics", "import", str(good), "--url", url) == 0
        assert "11 candidates" in printed()[0]
        assert await cli("demographics", "import", str(good), "--url", url) == 0  # idempotent
        out = printed()[0]
        assert "0 changed" in out and "imported before" in out
        assert await svc.fetchval("SELECT count(*) FROM demographics") == 11

        viewer = {"Authorization": f"Bearer {VIEWER}"}
        resp = await svc.client.get("/api/reports/impact", params={"stage_id": "stage-screen"}, headers=viewer)
        assert resp.status_code == 200, resp.text
        live = resp.json()
        assert live["basis"] == "recorded" and live["min_group_size"] == 5 and live["candidates_with_categories"] == 11
        # F 2/6 = 0.3333 against M 5/5: flagged; the unknown candidate passed
        assert by(live, "sex") == {"rows": {"Female": (6, 2, 0.3333, 0.3333, True, False),
                                            "Male": (5, 5, 1.0, 1.0, False, False)},
                                   "unknown": (1, 1), "note": None}
        assert by(live, "race_ethnicity")["rows"] == {"A": (8, 7, 0.875, 1.0, False, False),
                                                      "B": (3, 0, 0.0, 0.0, False, True)}
        assert by(live, "race_ethnicity", "sex")["rows"]["A × Male"] == (5, 5, 1.0, 1.0, False, False)
        crossed = await svc.client.get("/api/reports/impact", params={"by": "sex*race_ethnicity", "format": "csv"})
        assert crossed.status_code == 200 and crossed.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(crossed.text)))
        assert {(r["category"], r["n"], r["advanced"], r["too_small"]) for r in table} == {
            ("Female × A", "3", "2", "true"), ("Female × B", "3", "0", "true"), ("Male × A", "5", "5", "false"),
            ("(unknown)", "1", "1", "")}
        assert (await svc.client.get("/api/reports/impact", headers={"Accept": "text/csv"})).text.startswith("basis,")
        for params in ({"since": "yesterday"}, {"by": "sex;x"}, {"since": "2026-03-02", "until": "2026-03-01"}):
            refused = await svc.client.get("/api/reports/impact", params=params)
            assert refused.status_code == 400 and refused.json()["detail"], params
        later = await svc.client.get("/api/reports/impact", params={"since": "2999-01-01"})
        assert later.json()["groups"] == []
        assert (await svc.client.post("/api/demographics/imports", content=CSV, headers=viewer)).status_code == 403

        # a what-if: a threshold of 5 advances nobody; both sides carry their impact table
        resp = await svc.client.post("/api/replays", json={"rules": scenario.rules(threshold=5), "name": "strict"})
        assert resp.status_code == 202, resp.text

        async def finished():
            body = (await svc.client.get(resp.json()["url"])).json()
            return body if body["status"] != "running" else None

        body = await eventually(finished, timeout=30, message="replay did not finish")
        assert body["status"] == "done", body["error"]
        impact = body["result"]["impact"]
        assert set(impact) == {"current", "strict"}
        assert by(impact["current"], "sex") == by(live, "sex")  # the replay reproduces what was live
        strict = by(impact["strict"], "sex")
        assert strict["rows"]["Female"][:2] == (6, 0) and strict["rows"]["Male"][:2] == (5, 0)
        assert "undefined" in strict["note"]
        printed()
        logged = "".join(seen)
        assert "demographics_imported" in logged  # the service's log lines are here
        assert "Female" not in logged, "a category reached a log line"
        page = await svc.client.get(resp.json()["url"], params={"format": "html"})
        assert "Impact: strict" in page.text and "Female" in page.text
        rules_file = tmp_path / "strict.json"
        rules_file.write_text(json.dumps(scenario.rules(threshold=5)))
        assert await cli("replay", "--rules", str(rules_file), "--no-progress") == 0
        text = capsys.readouterr().out  # the report itself (not kept: it shows the categories)
        assert "Impact (current)" in text and "Impact (strict)" in text and "Female: n 6, advanced 2" in text
        assert await cli("report", "impact", "--by", "sex", "--stage", "stage-screen", "--url", url) == 0
        text = capsys.readouterr().out
        assert "Female: n 6, advanced 2, SR 33%, IR 0.3333 FLAGGED" in text and "unknown: n 1, advanced 1" in text
        assert await cli("report", "impact", "--since", "never", "--url", url) == 1
        assert "since: not a date" in capsys.readouterr().err

        # erasure: one candidate, then the whole import
        assert await cli("demographics", "delete", "--candidate", f"cand-{APPS[0]}", "--url", url) == 0
        after = (await svc.client.get("/api/reports/impact", params={"by": "sex"})).json()
        assert by(after, "sex")["rows"]["Female"][:2] == (5, 1) and by(after, "sex")["unknown"] == (2, 2)
        assert await cli("demographics", "delete", "--candidate", f"cand-{APPS[0]}", "--url", url) == 1
        [held] = (await svc.client.get("/api/demographics/imports")).json()
        assert held["candidates"] == 10 and held["columns"] == ["sex", "race_ethnicity"]
        assert await cli("demographics", "delete", "--import", held["import_id"], "--url", url) == 0
        assert await svc.fetchval("SELECT count(*) FROM demographics") == 0
        gone = (await svc.client.get("/api/reports/impact", params={"by": "sex"})).json()
        assert by(gone, "sex") == {"rows": {}, "unknown": (12, 8), "note": by(gone, "sex")["note"]}
        assert "Female" not in "".join(printed()), "a category reached a log line"

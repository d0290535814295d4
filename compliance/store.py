"""SQL of the compliance reports: the demographics tables (this component's own), and read
queries over the decisions (`evaluator_decisions`), the audit trail (`event_log`) and the
projectors' `applications` and metadata, for the impact, oversight and explanation reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from compliance.demographics import Parsed
from compliance.explanation import Answer, Titles
from compliance.impact import FINAL_OUTCOMES, Selection
from compliance.oversight import Proposal

# --- demographics ------------------------------------------------------------------------------


async def import_demographics(conn: asyncpg.Connection, parsed: Parsed) -> dict[str, Any]:
    """Upsert every row of the file in one transaction: a candidate's categories become the file's
    (the newest import that names a candidate wins). The same file again changes nothing."""
    async with conn.transaction():
        again = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM demographic_imports WHERE import_id = $1)",
                                    parsed.import_id)
        await conn.execute(
            """INSERT INTO demographic_imports (import_id, columns, rows) VALUES ($1, $2, $3)
               ON CONFLICT (import_id) DO UPDATE SET imported_at = now()""",
            parsed.import_id, list(parsed.columns), len(parsed.rows))
        ids = list(parsed.rows)
        changed = await conn.fetchval(
            """WITH up AS (
                 INSERT INTO demographics (candidate_id, categories, import_id)
                 SELECT c, v::jsonb, $3 FROM unnest($1::text[], $2::text[]) AS t(c, v)
                 ON CONFLICT (candidate_id) DO UPDATE SET categories = EXCLUDED.categories,
                     import_id = EXCLUDED.import_id, imported_at = now()
                 WHERE demographics.categories IS DISTINCT FROM EXCLUDED.categories
                    OR demographics.import_id IS DISTINCT FROM EXCLUDED.import_id
                 RETURNING 1)
               SELECT count(*) FROM up""",
            ids, [orjson.dumps(parsed.rows[i]).decode() for i in ids], parsed.import_id)
        await _forget_empty_imports(conn)
    return {"import_id": parsed.import_id, "rows": len(parsed.rows), "columns": list(parsed.columns),
            "changed": int(changed), "already_imported": bool(again)}


async def _forget_empty_imports(conn: asyncpg.Connection) -> None:
    """An import whose every candidate a newer import took over holds nothing any more."""
    await conn.execute("DELETE FROM demographic_imports i WHERE NOT EXISTS "
                       "(SELECT 1 FROM demographics d WHERE d.import_id = i.import_id)")


async def delete_candidate(conn: asyncpg.Connection, candidate_id: str) -> bool:
    async with conn.transaction():
        gone = await conn.fetchval("DELETE FROM demographics WHERE candidate_id = $1 RETURNING 1", candidate_id)
        await _forget_empty_imports(conn)
    return gone is not None


async def delete_import(conn: asyncpg.Connection, import_id: str) -> int | None:
    """Every candidate whose categories came from this import; None when there is no such import."""
    async with conn.transaction():
        known = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM demographic_imports WHERE import_id = $1)",
                                    import_id)
        if not known:
            return None
        n = await conn.fetchval("WITH gone AS (DELETE FROM demographics WHERE import_id = $1 RETURNING 1) "
                                "SELECT count(*) FROM gone", import_id)
        await conn.execute("DELETE FROM demographic_imports WHERE import_id = $1", import_id)
    return int(n)


async def imports(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT i.import_id, i.columns, i.imported_at, count(d.candidate_id) AS candidates
           FROM demographic_imports i LEFT JOIN demographics d ON d.import_id = i.import_id
           GROUP BY i.import_id ORDER BY i.imported_at DESC""")
    return [{"import_id": r["import_id"], "columns": list(r["columns"]), "imported_at": r["imported_at"].isoformat(),
             "candidates": r["candidates"]} for r in rows]


async def categories_by_application(conn: asyncpg.Connection, application_ids: Sequence[str]
                                    ) -> dict[str, dict[str, str]]:
    """Each application's candidate's categories (through the `applications` read model); an
    application whose candidate has none on record is absent (unknown)."""
    rows = await conn.fetch(
        """SELECT a.application_id, d.categories FROM applications a
           JOIN demographics d ON d.candidate_id = a.candidate_id
           WHERE a.application_id = ANY($1::text[])""", list(application_ids))
    return {r["application_id"]: _object(r["categories"]) for r in rows}


def _object(value: Any) -> dict[str, str]:
    """jsonb as a dict, whether or not the connection has the service's jsonb codec."""
    found = orjson.loads(value) if isinstance(value, str | bytes) else value
    return {str(k): str(v) for k, v in dict(found).items()}


# --- decisions ----------------------------------------------------------------------------------


async def recorded_selections(conn: asyncpg.Connection, *, since: datetime | None, until: datetime | None,
                              stage_id: str | None) -> list[Selection]:
    """Per (application, stage): the first final decision a rule made (not a recruiter's follow-up
    archive), if it falls in [since, until)."""
    rows = await conn.fetch(
        """SELECT * FROM (
             SELECT DISTINCT ON (application_id, stage_id) application_id, stage_id, rule_id, outcome, decided_at
             FROM evaluator_decisions
             WHERE outcome = ANY($1::text[]) AND coalesce(explanation->>'decided_by', '') <> 'recruiter'
               AND ($4::text IS NULL OR stage_id = $4)
             ORDER BY application_id, stage_id, decided_at, decision_id) AS first
           WHERE ($2::timestamptz IS NULL OR decided_at >= $2) AND ($3::timestamptz IS NULL OR decided_at < $3)""",
        list(FINAL_OUTCOMES), since, until, stage_id)
    return [Selection(r["application_id"], r["stage_id"], r["rule_id"], r["outcome"] == "advance") for r in rows]


async def proposals(conn: asyncpg.Connection, *, since: datetime | None, until: datetime | None
                    ) -> tuple[list[Proposal], dict[str, int]]:
    """Rejection proposals decided in [since, until) that Slack accepted, each with its first
    answer (from the audit trail); and per rule, the archives it made with no one asked."""
    window = ("($1::timestamptz IS NULL OR d.decided_at >= $1) AND ($2::timestamptz IS NULL OR d.decided_at < $2)")
    rows = await conn.fetch(
        f"""SELECT d.rule_id, d.command_id, posted.recorded_at AS posted_at, answer.choice, answer.recorded_at
                   AS answered_at, answer.slack_user_id
            FROM evaluator_decisions d
            JOIN LATERAL (SELECT min(recorded_at) AS recorded_at FROM event_log
                          WHERE event_type = 'SlackMessagePosted' AND key = d.application_id
                            AND payload->>'command_id' = d.command_id) posted ON posted.recorded_at IS NOT NULL
            LEFT JOIN LATERAL (SELECT payload->>'choice' AS choice, payload->>'slack_user_id' AS slack_user_id,
                                      recorded_at FROM event_log
                               WHERE event_type = 'RecruiterDecided' AND key = d.application_id
                                 AND payload->>'proposal_command_id' = d.command_id
                               ORDER BY stream_seq LIMIT 1) answer ON true
            WHERE d.outcome = 'propose_rejection' AND d.command_id IS NOT NULL AND {window}""", since, until)
    automatic = await conn.fetch(
        f"""SELECT rule_id, count(*) AS n FROM evaluator_decisions d
            WHERE outcome = 'archive' AND coalesce(explanation->>'decided_by', '') <> 'recruiter'
              AND mode = 'live' AND NOT dry_run AND {window} GROUP BY rule_id""", since, until)
    return ([Proposal(r["rule_id"], r["command_id"], r["posted_at"], r["choice"], r["answered_at"], r["slack_user_id"])
             for r in rows], {r["rule_id"]: int(r["n"]) for r in automatic})


# --- explanation --------------------------------------------------------------------------------


async def application_decisions(conn: asyncpg.Connection, application_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT decision_id, stage_id, rule_set_version, rule_id, outcome, mode, dry_run, target_stage_id,
                  command_id, status, explanation, decided_at
           FROM evaluator_decisions WHERE application_id = $1 ORDER BY decided_at, decision_id""", application_id)
    return [dict(r) for r in rows]


async def answers(conn: asyncpg.Connection, application_id: str) -> dict[str, Answer]:
    """The first answer to each proposal about the application (later clicks change nothing)."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (payload->>'proposal_command_id') payload->>'proposal_command_id' AS command_id,
                  payload->>'choice' AS choice, recorded_at
           FROM event_log WHERE event_type = 'RecruiterDecided' AND key = $1
           ORDER BY payload->>'proposal_command_id', stream_seq""", application_id)
    return {r["command_id"]: Answer(r["choice"], r["recorded_at"]) for r in rows}


async def titles(conn: asyncpg.Connection, decisions: Sequence[dict[str, Any]], *, interviewer_names: bool) -> Titles:
    """Stage, interview and question titles for the decisions; interviewers' names only if allowed."""
    stages = {s for d in decisions for s in (d["stage_id"], d.get("target_stage_id")) if s}
    reqs = [r for d in decisions for r in (d.get("explanation") or {}).get("requirements") or []]
    interviews = sorted({str(r.get("interview_id")) for r in reqs if r.get("interview_id")})
    fields = sorted({str(r.get("field")) for r in reqs if r.get("field")})
    stage_rows = await conn.fetch("SELECT stage_id, title FROM interview_stages WHERE stage_id = ANY($1::text[]) "
                                  "AND title IS NOT NULL", sorted(stages))
    interview_rows = await conn.fetch("SELECT record_id, data->>'title' AS title FROM metadata_records "
                                      "WHERE kind = 'interview' AND record_id = ANY($1::text[])", interviews)
    field_rows = await conn.fetch("SELECT DISTINCT ON (path) path, title FROM feedback_form_fields "
                                  "WHERE path = ANY($1::text[]) AND title IS NOT NULL ORDER BY path, title", fields)
    people = None
    if interviewer_names:
        users = sorted({str(c.get("submitted_by")) for r in reqs for c in r.get("checks") or [] if c.get("submitted_by")})
        user_rows = await conn.fetch(
            "SELECT record_id, trim(concat_ws(' ', data->>'firstName', data->>'lastName')) AS name "
            "FROM metadata_records WHERE kind = 'user' AND record_id = ANY($1::text[])", users)
        people = {r["record_id"]: r["name"] for r in user_rows if r["name"]}
    return Titles(stages={r["stage_id"]: r["title"] for r in stage_rows},
                  interviews={r["record_id"]: r["title"] for r in interview_rows if r["title"]},
                  questions={r["path"]: r["title"] for r in field_rows}, interviewers=people)


async def knows_application(conn: asyncpg.Connection, application_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM event_log WHERE key = $1)", application_id))

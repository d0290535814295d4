"""Console page-speed benchmark: the read models filled with N applications (default 100,000; --quick
10,000) by bulk SQL, the real `autoadvance http` process (embedded NATS and PostgreSQL in a temp
folder), then each console page requested R times in turn over one keep-alive connection with the
viewer's bearer token: the inbox (first page, filtered by job, filtered by outcome, a deep keyset
page near the end), a story, pending, rules, health, replays and one replay's result.

    .venv/bin/python bench/ui.py [--quick] [--apps N] [--rounds R]

Server time is the request's time on loopback (the client's share is a few hundred microseconds).
Ends with `RESULT ui_page_p95_ms` (the worst page's p95) and one `RESULT ui_<page>_p95_ms` per page.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from urllib.parse import urlencode

import _common as c
import asyncpg
import httpx
import orjson

VIEWER_TOKEN = "bench-viewer-token"
PLANS, STAGES, JOBS = 8, 4, 50
TARGET_MS = 150.0


def rule_set(version: int) -> dict:
    rules = [{"id": f"plan-{p}-stage-{s}", "interview_plan_id": f"plan-{p}", "stage_id": f"plan-{p}-stage-{s}",
              "mode": "live" if (p + s + version) % 3 else "shadow",
              "requirements": [{"interview_id": f"int-{p}-{s}", "field": "overall_recommendation",
                                "operator": ">=", "threshold": 2 + (version + s) % 3}],
              "on_fail": {"action": "propose_rejection", "archive_reason_id": "reason-1"}}
             for p in range(PLANS) for s in range(STAGES - 1)]
    return {"name": f"Bench rules v{version}", "defaults": {"quiet_period": "30m", "timeout": "7d"}, "rules": rules}


def replay_result(changes: int) -> dict:
    """A finished what-if's result as `replay.runs` stores it, with `changes` changed decisions."""
    side = {"rule_set_version": 3, "rule_id": "r", "decided_at": "2026-01-01T00:00:00+00:00",
            "target_stage_id": None, "requirements": []}
    totals = [{"stage_id": f"plan-{p}-stage-{s}", "rule_id": f"plan-{p}-stage-{s}",
               **{lane: {"decided": 1000, "advanced": 600 - 40 * i, "rejected": 400 + 40 * i, "timed_out": 5,
                         "pass_rate": 0.6 - 0.04 * i} for i, lane in enumerate(("current", "stricter"))}}
              for p in range(PLANS) for s in range(STAGES - 1)]
    return {"summary": {"events": 1_000_000, "applications": 100_000, "from": "2026-01-01T00:00:00+00:00",
                        "to": "2026-03-01T00:00:00+00:00",
                        "lanes": {lane: {"decisions": 90_000, "by_outcome": {"advance": 50_000,
                                                                             "propose_rejection": 40_000},
                                         "rule_set_versions": [1, 2, 3]} for lane in ("current", "stricter")},
                        "compared": {"before": "current", "after": "stricter", "stages_compared": 90_000,
                                     "added": 0, "removed": 0, "changed": changes}},
            "totals": totals, "seconds": 42.0,
            "changes": [{"application_id": f"app-{i:06d}", "stage_id": f"plan-{i % PLANS}-stage-0", "kind": "changed",
                         "before": {**side, "outcome": "advance"}, "after": {**side, "outcome": "propose_rejection"},
                         "why": ["overall_recommendation >= 3 (3, 4): passed -> overall_recommendation >= 4 (3, 4): "
                                 "failed"]} for i in range(changes)]}


async def seed(url: str, apps: int) -> None:
    """Bulk SQL (INSERT … SELECT over generate_series, one statement per table), then ANALYZE."""
    n = apps
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"""
        INSERT INTO interview_stages (stage_id, interview_plan_id, title, type, order_in_plan, stream_seq)
        SELECT format('plan-%s-stage-%s', p, s), format('plan-%s', p),
               (ARRAY['Phone Screen', 'Technical Interview', 'Onsite', 'Archived'])[s + 1],
               CASE WHEN s = 3 THEN 'Archived' ELSE 'Active' END, s, 1
        FROM generate_series(0, {PLANS - 1}) p, generate_series(0, {STAGES - 1}) s;

        INSERT INTO applications (application_id, candidate_id, job_id, interview_plan_id, current_stage_id, status,
                                  reported_at, stream_seq)
        SELECT format('app-%s', lpad(i::text, 6, '0')), format('cand-%s', i), format('job-%s', i % {JOBS}),
               format('plan-%s', i % {PLANS}), format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}),
               'Active', timestamptz '2026-01-01' + i * interval '1 minute', i
        FROM generate_series(0, {n - 1}) i;

        INSERT INTO interview_schedules (schedule_id, application_id, interview_stage_id, candidate_id, status,
                                         updated_at, source_event_id, stream_seq)
        SELECT format('sched-%s', i), format('app-%s', lpad(i::text, 6, '0')),
               format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}), format('cand-%s', i),
               'Complete', timestamptz '2026-01-01' + i * interval '1 minute', format('ev-%s-0', i), i
        FROM generate_series(0, {n - 1}) i;
        INSERT INTO interview_events (interview_event_id, schedule_id, application_id, interview_id, start_time, end_time)
        SELECT format('iev-%s', i), format('sched-%s', i), format('app-%s', lpad(i::text, 6, '0')),
               format('int-%s-%s', i % {PLANS}, i % {STAGES - 1}), timestamptz '2026-01-01' + i * interval '1 minute',
               timestamptz '2026-01-01' + i * interval '1 minute' + interval '1 hour'
        FROM generate_series(0, {n - 1}) i;
        INSERT INTO interview_event_interviewers (interview_event_id, user_id, schedule_id, is_feedback_required)
        SELECT format('iev-%s', i), format('user-%s', (i + k) % 300), format('sched-%s', i), true
        FROM generate_series(0, {n - 1}) i, generate_series(0, 1) k;
        INSERT INTO feedback_submissions (feedback_id, application_id, submitted_at, submitted_by_user_id, interview_id,
                                          interview_event_id, form_definition_id, submitted_values, stream_seq)
        SELECT format('fb-%s-%s', i, k), format('app-%s', lpad(i::text, 6, '0')),
               timestamptz '2026-01-01' + i * interval '1 minute' + interval '2 hours', format('user-%s', (i + k) % 300),
               format('int-%s-%s', i % {PLANS}, i % {STAGES - 1}), format('iev-%s', i), 'form-1',
               jsonb_build_object('overall_recommendation', 1 + (i + k) % 4), i
        FROM generate_series(0, {n - 1}) i, generate_series(0, 1) k;

        INSERT INTO event_log (stream_seq, event_id, event_type, schema_version, key, source, occurred_at, recorded_at,
                               payload)
        SELECT 1 + i * 4 + k, format('e-%s-%s', i, k),
               (ARRAY['InterviewScheduleUpdated', 'FeedbackSubmitted', 'FeedbackSubmitted', 'DecisionMade'])[k + 1],
               1, format('app-%s', lpad(i::text, 6, '0')), 'ashby',
               timestamptz '2026-01-01' + i * interval '1 minute' + k * interval '1 hour',
               timestamptz '2026-01-01' + i * interval '1 minute' + k * interval '1 hour',
               CASE k WHEN 0 THEN jsonb_build_object('schedule', jsonb_build_object('id', format('sched-%s', i),
                                  'status', 'Complete', 'interviewStageId', format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}),
                                  'interviewEvents', jsonb_build_array(jsonb_build_object('interviewerUserIds',
                                  jsonb_build_array(format('user-%s', i % 300), format('user-%s', (i + 1) % 300))))))
                      WHEN 3 THEN jsonb_build_object('decision_id', format('d-%s', i), 'outcome', 'advance',
                                  'rule_id', 'r', 'rule_set_version', 3, 'mode', 'live', 'stage_id',
                                  format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}))
                      ELSE jsonb_build_object('feedback_id', format('fb-%s-%s', i, k - 1), 'submitted_by_user_id',
                                  format('user-%s', (i + k) % 300), 'interview_id', 'int') END
        FROM generate_series(0, {n - 1}) i, generate_series(0, 3) k;

        INSERT INTO evaluator_rulesets (version, document, activated_at, stream_seq)
        VALUES (1, $1, '2025-12-01', 1), (2, $2, '2025-12-15', 2), (3, $3, '2026-01-01', 3);

        INSERT INTO evaluator_decisions (decision_id, application_id, stage_id, rule_set_version, rule_id, outcome,
                                         mode, dry_run, target_stage_id, command_id, command_type, status, explanation,
                                         decided_at)
        SELECT format('d-%s', i), format('app-%s', lpad(i::text, 6, '0')),
               format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}), 1 + i % 3,
               format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}),
               (ARRAY['advance', 'advance', 'propose_rejection', 'timeout', 'archive'])[1 + i % 5],
               CASE WHEN i % 7 = 0 THEN 'shadow' ELSE 'live' END, false, NULL, format('cmd-%s', i),
               (ARRAY['AdvanceApplication', 'AdvanceApplication', 'ProposeRejection', 'AlertTimeout',
                      'ArchiveApplication'])[1 + i % 5],
               'succeeded',
               jsonb_build_object('requirements', jsonb_build_array(jsonb_build_object(
                   'field', 'overall_recommendation', 'interview_id', format('int-%s', i % 4), 'required', true,
                   'aggregate', 'each', 'operator', '>=', 'threshold', 3, 'status', 'passed',
                   'checks', jsonb_build_array(jsonb_build_object('value', 3, 'submitted_by', format('user-%s', i % 300),
                                                                  'feedback_id', format('fb-%s-0', i), 'passed', true))))),
               timestamptz '2026-01-01' + i * interval '1 minute' + interval '3 hours'
        FROM generate_series(0, {n - 1}) i WHERE i % 10 <> 9;

        INSERT INTO evaluator_pending (application_id, stage_id, rule_id, waiting_for, fire_at, updated_at)
        SELECT format('app-%s', lpad(i::text, 6, '0')), format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}),
               format('plan-%s-stage-%s', i % {PLANS}, i % {STAGES - 1}),
               jsonb_build_array(jsonb_build_object('kind', 'feedback', 'detail', 'feedback from an interviewer',
                                                    'interviewer_id', format('user-%s', i % 300))),
               timestamptz '2026-01-01' + i * interval '1 minute' + interval '7 days',
               timestamptz '2026-01-01' + i * interval '1 minute'
        FROM generate_series(0, {n - 1}) i WHERE i % 10 = 9;

        INSERT INTO executor_inbox (command_id, command_type, application_id, status, reason, attempts, updated_at)
        SELECT format('cmd-%s', i), CASE WHEN i % 5 = 4 THEN 'ArchiveApplication' ELSE 'AdvanceApplication' END,
               format('app-%s', lpad(i::text, 6, '0')), CASE WHEN i % 200 = 0 THEN 'failed' ELSE 'succeeded' END,
               CASE WHEN i % 200 = 0 THEN 'Ashby said 422' END, 1,
               timestamptz '2026-01-01' + i * interval '1 minute' + interval '4 hours'
        FROM generate_series(0, {n - 1}) i WHERE i % 5 IN (0, 1, 4) AND i % 10 <> 9;
        INSERT INTO notifier_inbox (command_id, command_type, application_id, status, channel, ts, updated_at)
        SELECT format('cmd-%s', i), 'ProposeRejection', format('app-%s', lpad(i::text, 6, '0')),
               CASE WHEN i % 300 = 2 THEN 'failed' ELSE 'posted' END, 'C-recruiting', format('%s.0001', i),
               timestamptz '2026-01-01' + i * interval '1 minute' + interval '4 hours'
        FROM generate_series(0, {n - 1}) i WHERE i % 5 = 2 AND i % 10 <> 9;
        INSERT INTO notifier_proposals (command_id, application_id, channel, ts, text, blocks, decided_by, choice,
                                        decided_at)
        SELECT format('cmd-%s', i), format('app-%s', lpad(i::text, 6, '0')), 'C-recruiting', format('%s.0001', i),
               'proposal', '[]', CASE WHEN i % 20 <> 2 THEN 'U1' END, CASE WHEN i % 20 <> 2 THEN 'archive' END,
               CASE WHEN i % 20 <> 2 THEN timestamptz '2026-01-01' + i * interval '1 minute' + interval '5 hours' END
        FROM generate_series(0, {n - 1}) i WHERE i % 5 = 2 AND i % 10 <> 9;
        """.replace("$1", "'" + orjson.dumps(rule_set(1)).decode() + "'")
           .replace("$2", "'" + orjson.dumps(rule_set(2)).decode() + "'")
           .replace("$3", "'" + orjson.dumps(rule_set(3)).decode() + "'"))
        result = orjson.dumps(replay_result(500)).decode()
        summary = orjson.dumps(replay_result(0)["summary"]).decode()
        await conn.execute(f"""
        INSERT INTO replays (replay_id, status, request, created_at, finished_at, heartbeat_at, events_read,
                             events_total, summary, result)
        SELECT format('replay-%s', lpad(r::text, 3, '0')), 'done', '{{}}', now() - r * interval '1 hour',
               now() - r * interval '1 hour' + interval '1 minute', now(), 1000000, 1000000, '{summary}',
               CASE WHEN r = 0 THEN '{result}'::jsonb END
        FROM generate_series(0, 59) r""")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def pages(url: str, apps: int) -> dict[str, str]:
    """Each page measured, by name: its path."""
    conn = await asyncpg.connect(url)
    try:
        deep = await conn.fetchrow("SELECT decided_at, decision_id FROM evaluator_decisions "
                                   "ORDER BY decided_at DESC, decision_id DESC OFFSET $1 LIMIT 1", int(apps * 0.9 * 0.9))
    finally:
        await conn.close()
    cursor = f"{deep['decided_at'].isoformat()}|{deep['decision_id']}"
    story = f"app-{apps // 2:06d}"
    return {"inbox": "/ui/", "inbox_job": "/ui/?job=job-7", "inbox_outcome": "/ui/?outcome=timeout",
            "inbox_deep": "/ui/?" + urlencode({"after": cursor}), "story": f"/ui/applications/{story}",
            "pending": "/ui/pending", "rules": "/ui/rules", "rules_diff": "/ui/rules?a=1&b=3", "health": "/ui/health",
            "replays": "/ui/replays", "replay_result": "/ui/replays/replay-000"}


def measure(base: str, paths: dict[str, str], rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in paths}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {VIEWER_TOKEN}"}, timeout=30) as client:
        for name, path in paths.items():  # warm-up: each page's statements prepared, templates compiled
            response = client.get(path)
            if response.status_code != 200:
                sys.exit(f"{name} {path}: HTTP {response.status_code}: {response.text[:300]}")
        for _ in range(rounds):
            for name, path in paths.items():
                started = time.perf_counter()
                response = client.get(path)
                times[name].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    sys.exit(f"{name} {path}: HTTP {response.status_code}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 applications and 10 rounds")
    parser.add_argument("--apps", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="requests per page (default 40; --quick 10)")
    parser.add_argument("--profile", default=None, help="write the HTTP process's cProfile stats here")
    args = parser.parse_args()
    apps = args.apps or (10_000 if args.quick else 100_000)
    rounds = args.rounds or (10 if args.quick else 40)
    with c.embedded_infra("autoadvance-bench-ui-") as infra:
        port = c.free_port()
        env = infra.env(HTTP_PORT=str(port), VIEWER_API_TOKEN=VIEWER_TOKEN, HTTP_WORKERS="1")
        log = infra.folder / "service.log"
        with c.service_process(["http"], env, log, profile=args.profile) as http:
            c.wait_http(f"http://127.0.0.1:{port}/health", http, log)
            started = time.perf_counter()
            asyncio.run(seed(infra.pg.url, apps))
            print(f"seeded {apps:,} applications in {time.perf_counter() - started:.1f} s", flush=True)
            paths = asyncio.run(pages(infra.pg.url, apps))
            times = measure(f"http://127.0.0.1:{port}", paths, rounds)
    worst_name, worst = "", 0.0
    for name, values in times.items():
        values.sort()
        p50, p95 = c.percentile(values, 0.5), c.percentile(values, 0.95)
        print(f"{name:14} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {values[-1]:7.1f} ms  {paths[name][:60]}")
        if p95 > worst:
            worst_name, worst = name, p95
    for name, values in times.items():
        c.result(f"ui_{name}_p95_ms", c.percentile(values, 0.95), "ms")
    print(f"worst page: {worst_name} (target < {TARGET_MS:.0f} ms)")
    c.result("ui_page_p95_ms", worst, "ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

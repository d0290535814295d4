"""Replay benchmark: N generated events (default 1,000,000; --quick 50,000) copied into event_log
of an embedded PostgreSQL (temp dir, free port), then: a what-if of two rule sets against the ones
that were live (as `autoadvance replay --workers W` runs it), the raw read rate around it (read +
parse, nothing evaluated; before and after, averaged), peak RSS, and rebuilding the schedules and
applications read models from those events.

    .venv/bin/python bench/replay.py [--events N] [--quick] [--workers W]

Ends with the RESULT lines. Each measurement runs in a fresh process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import multiprocessing
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contracts.event_log import LOG_COLUMN_NAMES  # noqa: E402 - after the path above

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
PLANS = [f"plan-{p}" for p in range(8)]
JOBS = 40
USERS = 300
REASON = "reason-not-a-fit"
COLUMNS = LOG_COLUMN_NAMES
APPS_PER_EVENT = 1 / 12.5  # a generated application has about 12.5 events


def stages(plan: str) -> list[str]:
    return [f"{plan}-screen", f"{plan}-onsite", f"{plan}-offer", f"{plan}-archived"]


def rule(plan: str, step: int, threshold: float, *, extra: bool = False) -> dict:
    reqs = [{"interview_id": f"int-{plan}-{step}", "field": "overall", "operator": ">=", "threshold": threshold}]
    if extra:
        reqs.append({"interview_id": f"int-{plan}-{step}", "field": "culture", "operator": "in",
                     "threshold": ["yes", "strong_yes"], "required": False})
    return {"id": f"{plan}-{step}", "interview_plan_id": plan, "stage_id": stages(plan)[step], "requirements": reqs,
            "on_fail": {"action": "propose_rejection", "archive_reason_id": REASON},
            "quiet_period": "30m", "timeout": "7d"}


def live_rules(version: int) -> dict:
    """v1 at the start; v2 (activated 40% in) asks more of the onsite of two plans."""
    rules = [rule(p, step, 3 if version == 1 or step == 0 or i >= 2 else 3.5)
             for i, p in enumerate(PLANS) for step in (0, 1)]
    return {"name": f"live v{version}", "defaults": {"quiet_period": "30m", "timeout": "7d"}, "rules": rules}


def what_if_rules() -> dict:
    """The proposal: a stricter screen (4 instead of 3, plus a culture check) for half the plans."""
    rules = [rule(p, step, 4 if step == 0 and i % 2 == 0 else 3, extra=step == 0 and i % 2 == 0)
             for i, p in enumerate(PLANS) for step in (0, 1)]
    return {"name": "stricter screen", "defaults": {"quiet_period": "30m", "timeout": "7d"}, "rules": rules}


def _person(uid: str, required: bool = True) -> dict:
    return {"id": uid, "email": f"{uid}@example.com", "firstName": "Alex", "lastName": "Interviewer",
            "globalRole": "Interviewer", "isEnabled": True, "trainingRole": None, "isFeedbackRequired": required}


def application(i: int, start: datetime, rnd: random.Random) -> list[tuple]:
    """One application's events as (recorded_at, event_type, key, source, occurred_at, payload)."""
    app = f"app-{i:07d}"
    plan = PLANS[i % len(PLANS)]
    job = f"job-{i % JOBS}"
    out: list[tuple] = []
    t = start

    def add(kind: str, payload: dict, at: datetime, *, source: str = "ashby", occurred: datetime | None = None) -> None:
        out.append((at, kind, app, source, occurred or at, payload))

    def snapshot(stage: str, status: str, at: datetime) -> None:
        info = {"id": app, "status": status, "updatedAt": at.isoformat(), "candidate": {"id": f"cand-{i}"},
                "job": {"id": job}, "currentInterviewStage": {"id": stage, "interviewPlanId": plan},
                "hiringTeam": [{"userId": f"usr-{i % USERS}", "role": "Recruiter"}]}
        add("ApplicationSnapshotted", {"application_id": app, "candidate_id": f"cand-{i}", "job_id": job,
                                       "interview_plan_id": plan, "current_stage_id": stage, "status": status,
                                       "hiring_team": info["hiringTeam"], "fetched_at": at.isoformat(),
                                       "raw": info}, at)

    for step in (0, 1):
        stage = stages(plan)[step]
        snapshot(stage, "Active", t)
        sid, iev = f"sch-{app}-{step}", f"iev-{app}-{step}"
        panel = sorted({f"usr-{rnd.randrange(USERS)}" for _ in range(rnd.choice((2, 2, 3)))})
        created = t + timedelta(hours=1)

        def schedule(status: str, at: datetime, sid: str = sid, iev: str = iev, stage: str = stage,
                     step: int = step, created: datetime = created, panel: list[str] = panel) -> None:
            body = {"id": sid, "status": status, "applicationId": app, "interviewStageId": stage,
                    "candidateId": f"cand-{i}", "createdAt": created.isoformat(), "updatedAt": at.isoformat(),
                    "interviewEvents": [{
                        "id": iev, "interviewId": f"int-{plan}-{step}", "interviewScheduleId": sid,
                        "interviewerUserIds": panel, "interviewers": [_person(u) for u in panel],
                        "startTime": (created + timedelta(days=1)).isoformat(),
                        "endTime": (created + timedelta(days=1, hours=1)).isoformat(),
                        "createdAt": created.isoformat(), "updatedAt": at.isoformat(),
                        "feedbackLink": f"https://app.ashbyhq.com/feedback/{iev}", "location": None,
                        "meetingLink": None, "hasSubmittedFeedback": False}]}
            payload = {"action": "interviewScheduleUpdate", "webhook_action_id": f"wh-{sid}-{status}",
                       "schedule": body}
            add("InterviewScheduleUpdated", payload, at)
            if rnd.random() < 0.03:  # Ashby re-sent it under another action id
                add("InterviewScheduleUpdated", {**payload, "webhook_action_id": f"wh-{sid}-{status}-again"},
                    at + timedelta(seconds=40))

        schedule("Scheduled", created)
        interview_at = created + timedelta(days=1)
        schedule("WaitingOnFeedback", interview_at + timedelta(hours=1))
        failing = rnd.random() < 0.3
        silent = panel[-1] if rnd.random() < 0.04 else None  # one interviewer never submits
        last = interview_at
        for n, user in enumerate(panel):
            if user == silent:
                continue
            late = rnd.random() < 0.08
            at = interview_at + timedelta(hours=rnd.uniform(1, 20) + (72 if late else 0))
            score = rnd.choice((1, 2)) if failing and n == 0 else rnd.choice((3, 4, 4, 5))
            fid = f"fb-{app}-{step}-{user}"
            values = {"overall": {"score": score}, "culture": rnd.choice(("yes", "strong_yes", "no")),
                      "notes": "Structured notes from the interview. " * 3}
            item = {"id": fid, "applicationId": app, "submittedAt": at.isoformat(), "submittedByUser": {"id": user},
                    "interviewId": f"int-{plan}-{step}", "interviewEventId": iev,
                    "formDefinition": {"id": "form-1"}, "submittedValues": values}
            add("FeedbackSubmitted", {"feedback_id": fid, "application_id": app, "submitted_at": at.isoformat(),
                                      "submitted_by_user_id": user, "interview_id": f"int-{plan}-{step}",
                                      "interview_event_id": iev, "form_definition_id": "form-1",
                                      "submitted_values": values, "raw": item}, at)
            if rnd.random() < 0.05:  # edited a little later
                edit = at + timedelta(minutes=rnd.uniform(5, 25))
                add("FeedbackSubmitted", {"feedback_id": fid, "application_id": app,
                                          "submitted_at": edit.isoformat(), "submitted_by_user_id": user,
                                          "interview_id": f"int-{plan}-{step}", "interview_event_id": iev,
                                          "form_definition_id": "form-1", "submitted_values": values,
                                          "raw": {**item, "submittedAt": edit.isoformat()}}, edit)
            last = max(last, at)
        if rnd.random() < 0.3:
            schedule("Complete", last + timedelta(hours=2))
        if rnd.random() < 0.05:
            add("AshbyWebhookReceived", {"action": "candidateUpdate", "webhook_action_id": f"wh-cand-{app}-{step}",
                                         "data": {"candidate": {"id": f"cand-{i}"}}}, last + timedelta(hours=3))
        t = last + timedelta(days=rnd.uniform(1, 2)) + (timedelta(days=8) if silent else timedelta())
        if failing or silent:
            snapshot(stage, "Archived", t)
            return out
    snapshot(stages(plan)[2], "Active", t)
    snapshot(stages(plan)[2], "Hired", t + timedelta(days=rnd.uniform(3, 10)))
    return out


def catalog(at: datetime) -> list[tuple]:
    out = []
    for p in PLANS:
        data = {"id": p, "title": f"Plan {p}", "stages": [
            {"id": s, "title": s, "type": "Archived" if s.endswith("archived") else "Active",
             "orderInInterviewPlan": k, "interviewPlanId": p} for k, s in enumerate(stages(p))]}
        out.append((at, "InterviewPlanSynced", p, "ashby", at, {"record_id": p, "data": data}))
    reason = {"id": REASON, "text": "Not a fit", "reasonType": "RejectedByOrg", "isArchived": False}
    out.append((at, "ArchiveReasonSynced", REASON, "ashby", at, {"record_id": REASON, "data": reason}))
    return out


def activation(version: int, at: datetime) -> tuple:
    return (at, "RuleSetActivated", "ruleset", "operator", at,
            {"version": version, "document": live_rules(version), "activated_by": "bench"})


def history(n_events: int, seed: int = 7) -> Iterator[tuple]:
    """About n_events events in recorded order: applications start every few minutes and
    interleave; the catalog and v1 come first, v2 and a plan re-sync later."""
    rnd = random.Random(seed)
    n_apps = max(1, int(n_events * APPS_PER_EVENT * 1.15))  # enough: the history stops at n_events
    gap = timedelta(minutes=6)
    heap: list[tuple] = []
    specials = [activation(2, T0 + gap * int(n_apps * 0.4)),
                (T0 + gap * int(n_apps * 0.6), "InterviewPlanSynced", PLANS[0], "ashby", T0 + gap * int(n_apps * 0.6),
                 {"record_id": PLANS[0], "data": {"id": PLANS[0], "title": "Plan renamed"}})]
    for i, e in enumerate([*catalog(T0 - timedelta(days=1)), activation(1, T0 - timedelta(hours=1)), *specials]):
        heapq.heappush(heap, (e[0], -1, i, e))
    emitted, next_app = 0, 0
    while heap or next_app < n_apps:
        start = T0 + gap * next_app
        if next_app < n_apps and (not heap or heap[0][0] >= start):
            for j, e in enumerate(application(next_app, start, rnd)):
                heapq.heappush(heap, (e[0], next_app, j, e))
            next_app += 1
            continue
        _, _, _, e = heapq.heappop(heap)
        emitted += 1
        yield e
        if emitted >= n_events:
            return  # the log ends here: the latest applications are still in progress


async def load(url: str, n_events: int) -> int:
    """COPY the generated history into event_log; returns the number of rows."""
    conn = await asyncpg.connect(url)
    try:
        await conn.set_type_codec("jsonb", encoder=lambda b: b"\x01" + b, decoder=lambda b: b[1:],
                                  schema="pg_catalog", format="binary")
        seq, rows = 0, []
        for at, kind, key, source, occurred, payload in history(n_events):
            seq += 1
            rows.append((seq, f"ev-{seq:09d}", kind, 1 if kind != "FeedbackSubmitted" else 2, key, source,
                         occurred, at, None, None, orjson.dumps(payload)))
            if len(rows) >= 20_000:
                await conn.copy_records_to_table("event_log", records=rows, columns=COLUMNS)
                rows = []
        if rows:
            await conn.copy_records_to_table("event_log", records=rows, columns=COLUMNS)
        await conn.execute("ANALYZE event_log")
        return seq
    finally:
        await conn.close()


# --- measurements, each in its own process ----------------------------------------------------


def _peak_mib(who: int) -> float:
    """Peak resident memory. For this process, the kernel's high-water mark of its own memory
    since it started (VmHWM): `ru_maxrss` would also count its parent's size when it was spawned,
    carried over the fork and exec (the bench's own process, here). For children, `ru_maxrss` of
    the largest: each was spawned from a small measurement process, so that carry-over is small."""
    if who == resource.RUSAGE_SELF:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass  # no /proc: the portable figure, an upper bound
    return resource.getrusage(who).ru_maxrss / 1024


def _raw_read(url: str, out) -> None:
    """Read every event the way the what-if reads it (same query, codecs and row decoding; one
    process, the whole log), evaluating nothing."""
    from contracts.event_log import json_codecs
    from replay.history import log_batches

    async def run() -> int:
        conn = await asyncpg.connect(url)
        await json_codecs(conn)
        n = 0
        async for batch in log_batches(conn):
            n += len(batch)
        await conn.close()
        return n

    t = time.perf_counter()
    n = asyncio.run(run())
    out.put({"seconds": time.perf_counter() - t, "events": n, "rss": _peak_mib(resource.RUSAGE_SELF)})


def _what_if(url: str, workers: int, out) -> None:
    """The what-if as `autoadvance replay --rules ... --workers W` runs it (`run_request`): the
    rules that were live against the proposal, then their diff."""
    from contracts.event_log import json_codecs
    from evaluator.rules import RuleSet
    from replay.history import run_request
    from replay.request import ReplayRequest

    request = ReplayRequest(rules=RuleSet.model_validate(what_if_rules()), before_name="before",
                            after_name="after", workers=workers)

    async def run():
        conn = await asyncpg.connect(url)
        await json_codecs(conn)
        try:
            return await run_request(conn, request, now=datetime.now(UTC), database_url=url)
        finally:
            await conn.close()

    t = time.perf_counter()
    outcome = asyncio.run(run())
    seconds = time.perf_counter() - t
    run_ = outcome.run
    out.put({"seconds": seconds, "events": run_.events, "applications": run_.applications,
             "decisions": {k: v.by_outcome().total() for k, v in run_.lanes.items()},
             "evaluations": {k: v.evaluations for k, v in run_.lanes.items()},
             "shared": {k: v.shared for k, v in run_.lanes.items()},
             "skipped": {k: v.skipped for k, v in run_.lanes.items()},
             "changes": outcome.diff.counts(), "dropped": run_.dropped,
             "rss": _peak_mib(resource.RUSAGE_SELF), "rss_children": _peak_mib(resource.RUSAGE_CHILDREN)})


def _rebuild(url: str, out) -> None:
    from projectors.rebuild import rebuild
    from runtime.db import create_pool

    async def run() -> dict:
        pool = await create_pool(url, max_size=4)  # the pool `autoadvance rebuild` uses
        try:
            times = {}
            for model in ("schedules", "applications"):
                t = time.perf_counter()
                # no live projector runs here: the live tables are empty, so the new copy differs
                # from them by design and the switch accepts that (the parity check still runs)
                report = await rebuild(pool, model, accept_differences=True)
                times[model] = {"seconds": time.perf_counter() - t, "rows": report.rows, "events": report.events,
                                "bulk_load": report.bulk_load, "rss": _peak_mib(resource.RUSAGE_SELF)}
            return times
        finally:
            await pool.close()

    out.put(asyncio.run(run()))


def measure(target, *args) -> dict:
    """Run one measurement in a fresh process (so its peak RSS is its own); fail if it dies."""
    import queue

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, out))
    proc.start()
    while True:
        try:
            result = out.get(timeout=1)
            break
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"{target.__name__} died with exit code {proc.exitcode}") from None
    proc.join()
    return result


def _report_rebuild(rebuilt: dict) -> float:
    """Prints each model's rebuild; returns the seconds of both together."""
    for model, r in rebuilt.items():
        how = "bulk fold + COPY" if r["bulk_load"] else "per-batch handler"
        print(f"rebuild {model}: {r['events']} events -> {r['rows']} rows in {r['seconds']:.2f} s ({how}; "
              f"peak RSS so far {r['rss']:.0f} MiB)", flush=True)
    return sum(r["seconds"] for r in rebuilt.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="50,000 events")
    parser.add_argument("--workers", type=int, default=2, help="processes for the what-if (default 2)")
    parser.add_argument("--skip-rebuild", action="store_true", help="measure the replay only (no rebuild)")
    parser.add_argument("--only-rebuild", action="store_true", help="measure the rebuild only (no raw read, no what-if)")
    args = parser.parse_args(argv)
    n_events = args.events or (50_000 if args.quick else 1_000_000)

    from runtime.db import create_pool, migrate
    from runtime.embedded import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="autoadvance-bench-"))
    pg = EmbeddedPostgres(folder / "pg").start()
    try:
        async def prepare() -> int:
            pool = await create_pool(pg.url, max_size=2)
            try:
                await migrate(pool)
            finally:
                await pool.close()
            return await load(pg.url, n_events)

        t = time.perf_counter()
        loaded = asyncio.run(prepare())
        print(f"loaded {loaded} events into event_log in {time.perf_counter() - t:.1f} s", flush=True)
        if args.only_rebuild:
            print(f"RESULT rebuild_seconds {_report_rebuild(measure(_rebuild, pg.url)):.2f} s")
            return 0

        def raw_read(when: str) -> float:
            raw = measure(_raw_read, pg.url)
            rate = raw["events"] / raw["seconds"]
            print(f"raw read {when} (1 process, read and decode only): {raw['events']} events in {raw['seconds']:.2f} s "
                  f"= {rate:,.0f} events/s, peak RSS {raw['rss']:.0f} MiB", flush=True)
            return rate

        # the raw rate is read before and after the what-if and averaged: on a shared machine the
        # speed drifts by tens of percent within minutes, and one reading could be either extreme
        raw_before = raw_read("before")
        whatif = measure(_what_if, pg.url, args.workers)
        rate = whatif["events"] / whatif["seconds"]
        peak = max(whatif["rss"], whatif["rss_children"])
        print(f"what-if ({args.workers} process(es), 2 lanes): {whatif['events']} events, "
              f"{whatif['applications']} applications in {whatif['seconds']:.2f} s = {rate:,.0f} events/s; "
              f"decisions {whatif['decisions']}, evaluations {whatif['evaluations']}, shared {whatif['shared']}, "
              f"skipped {whatif['skipped']}, dropped {whatif['dropped']}; changes {whatif['changes']}; "
              f"peak RSS {whatif['rss']:.0f} MiB (parent), {whatif['rss_children']:.0f} MiB (largest worker)",
              flush=True)

        raw_rate = (raw_before + raw_read("after")) / 2

        rebuild_seconds = None
        if not args.skip_rebuild:
            rebuild_seconds = _report_rebuild(measure(_rebuild, pg.url))

        print(f"RESULT whatif_seconds {whatif['seconds']:.2f} s")
        print(f"RESULT whatif_ratio_to_raw_read {rate / raw_rate:.3f} ratio")
        print(f"RESULT peak_rss_mib {peak:.0f} MiB")
        if rebuild_seconds is not None:
            print(f"RESULT rebuild_seconds {rebuild_seconds:.2f} s")
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

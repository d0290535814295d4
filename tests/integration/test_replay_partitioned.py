"""Replaying event_log in several processes (each reading its share of the applications, with the
log's clock carried on each row instead of the other applications' rows) gives exactly what one
pass over the whole log gives, in memory or from the table, also when `recorded_at` goes back
now and then."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import signal
from collections import Counter
from datetime import timedelta

import asyncpg
import orjson
import pytest

from contracts.envelope import parse_envelope
from contracts.event_log import LOG_COLUMN_NAMES, json_codecs
from contracts.upcasters import current_version
from evaluator.decision_and_timers import Wait
from evaluator.rules import RuleSet
from replay.history import replay_log, replay_partitioned, what_if_partitioned
from replay.replayer import CURRENT, replay_lanes
from replay.report import compare, to_json
from runtime.db import create_pool, migrate
from support import eventually
from support.replay_history import LiveModel, generated_inputs, rule_doc

COLUMNS = LOG_COLUMN_NAMES


def logged_history(seed: int):
    model = LiveModel(seed=seed)
    inputs = generated_inputs(60, seed, activations=[(0.0, rule_doc()), (0.5, rule_doc(onsite=4))])
    model.run([e if e.schema_version >= current_version(e.event_type) else parse_envelope(e.to_bytes())
               for e in inputs])
    originals = {e.event_id: e for e in inputs}
    first = {}  # event_log keeps one row per event id, the first: JetStream's dedupe drops repeats
    for e in model.log:
        first.setdefault(e.event_id, originals.get(e.event_id, e))
    log = list(first.values())
    # now and then an event recorded a little before the one ahead of it (clocks of two writers)
    rnd = random.Random(seed)
    return [e.model_copy(update={"recorded_at": e.recorded_at - timedelta(minutes=rnd.uniform(1, 90))})
            if rnd.random() < 0.05 else e for e in log]


def outcome(run):
    return {name: (sorted((d.key(), d.rule_id, d.decided_at, d.explanation_json) for d in lane.decisions),
                   {app: (f.stage_id, f.until, sorted(r.kind for r in f.reasons))
                    for app, f in lane.finals.items() if isinstance(f, Wait)},
                   lane.timers_fired)
            for name, lane in run.lanes.items()}


async def test_a_partitioned_replay_of_event_log_equals_one_pass_over_it(infra):
    log = logged_history(23)
    pool = await create_pool(infra.database_url, max_size=2)
    try:
        await migrate(pool)
    finally:
        await pool.close()
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.copy_records_to_table("event_log", columns=COLUMNS, records=[
            (seq, e.event_id, e.event_type, e.schema_version, e.key, e.source, e.occurred_at, e.recorded_at,
             e.correlation_id, e.causation_id, orjson.dumps(e.payload).decode())
            for seq, e in enumerate(log, start=1)])
        lanes = {"live": CURRENT, "strict": RuleSet.model_validate(rule_doc(screen=4, quiet="30m"))}
        horizon = max(e.recorded_at for e in log) + timedelta(days=2)
        expected = replay_lanes([parse_envelope(e.to_bytes()) for e in log], lanes, horizon=horizon)
        assert expected["live"].decisions and expected["strict"].decisions

        await json_codecs(conn)
        whole = await replay_log(conn, lanes, horizon=horizon)
        assert outcome(whole) == outcome(expected)
        for workers in (2, 3):
            parts = await replay_partitioned(infra.database_url, lanes, workers=workers, horizon=horizon)
            assert outcome(parts) == outcome(expected), workers
            assert parts.events == len(log) + (workers - 1) * sum(
                e.event_type in ("InterviewPlanSynced", "ArchiveReasonSynced", "RuleSetActivated") for e in log)
        # a what-if diffs each partition in its worker: the same report as diffing one pass
        expected_diff = compare(expected["live"], expected["strict"])
        assert expected_diff.changes
        run, diff = await what_if_partitioned(infra.database_url, lanes, ("live", "strict"), workers=2,
                                              horizon=horizon)
        got, want = to_json(run, diff), to_json(expected, expected_diff)
        got["summary"].pop("events"), want["summary"].pop("events")  # each partition reads the catalog
        assert got == want
        # the lanes come back as counts: the workers made the diff from their decisions
        assert not run["strict"].decisions and not run["strict"].finals
        assert run["strict"].by_outcome() == Counter(d.outcome for d in expected["strict"].decisions)
        assert run["live"].by_outcome().total() == len(expected["live"].decisions)

        # cancelled (a server shutting down, a client gone): the workers are stopped, not awaited
        submitted = asyncio.Event()
        task = asyncio.create_task(what_if_partitioned(infra.database_url, lanes, ("live", "strict"), workers=2,
                                                       horizon=horizon, progress=lambda _n: submitted.set()))
        await asyncio.wait_for(submitted.wait(), timeout=30)
        workers = multiprocessing.active_children()
        assert len(workers) == 2
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        async def gone():
            return not multiprocessing.active_children()

        await eventually(gone, timeout=10, message="replay workers still running")
        assert [w.exitcode for w in workers] == [-signal.SIGTERM] * 2  # terminated, not shut down
    finally:
        await conn.close()

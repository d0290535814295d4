-- What-if replays and fidelity checks requested through the API (POST /api/replays): the request,
-- its progress and its result. Replays read the log and write only here.
CREATE TABLE IF NOT EXISTS replays (
    replay_id    text PRIMARY KEY,
    status       text NOT NULL,          -- running | done | failed
    request      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    events_read  bigint NOT NULL DEFAULT 0,
    summary      jsonb,
    result       jsonb,
    report_html  text,
    error        text
);
CREATE INDEX IF NOT EXISTS replays_created ON replays (created_at DESC);

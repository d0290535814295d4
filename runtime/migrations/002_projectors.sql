-- The append-only copy of EVENTS, with stream sequences: the audit trail as a table.
CREATE TABLE IF NOT EXISTS event_log (
    stream_seq      bigint PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    event_type      text NOT NULL,
    schema_version  int NOT NULL,
    key             text NOT NULL,
    source          text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    correlation_id  text,
    causation_id    text,
    payload         jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS event_log_key_seq ON event_log (key, stream_seq);
CREATE INDEX IF NOT EXISTS event_log_type_seq ON event_log (event_type, stream_seq);

-- Interview schedules, newest `updatedAt` wins (a late older update never overwrites a newer one).
CREATE TABLE IF NOT EXISTS interview_schedules (
    schedule_id         text PRIMARY KEY,
    application_id      text NOT NULL,
    interview_stage_id  text NOT NULL,
    candidate_id        text,
    status              text NOT NULL,
    updated_at          timestamptz,
    source_event_id     text NOT NULL,
    stream_seq          bigint NOT NULL,
    raw                 jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS interview_schedules_app ON interview_schedules (application_id);

CREATE TABLE IF NOT EXISTS interview_events (
    interview_event_id  text PRIMARY KEY,
    schedule_id         text NOT NULL,
    application_id      text NOT NULL,
    interview_id        text,
    start_time          timestamptz,
    end_time            timestamptz,
    raw                 jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS interview_events_schedule ON interview_events (schedule_id);

CREATE TABLE IF NOT EXISTS interview_event_interviewers (
    interview_event_id    text NOT NULL,
    user_id               text NOT NULL,
    schedule_id           text NOT NULL,
    is_feedback_required  boolean NOT NULL,
    PRIMARY KEY (interview_event_id, user_id)
);
CREATE INDEX IF NOT EXISTS interview_event_interviewers_schedule ON interview_event_interviewers (schedule_id);

-- How many events each projector applied: lets tests prove no event was applied twice.
CREATE TABLE IF NOT EXISTS projection_stats (
    consumer  text PRIMARY KEY,
    applied   bigint NOT NULL DEFAULT 0
);

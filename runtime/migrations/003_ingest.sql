-- The poller's durable state: cursors / sync tokens, and which applications to poll for what.
CREATE TABLE IF NOT EXISTS poller_cursors (
    name        text PRIMARY KEY,
    value       text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS poll_watch (
    application_id  text PRIMARY KEY,
    state           jsonb NOT NULL,
    next_poll_at    timestamptz
);
CREATE INDEX IF NOT EXISTS poll_watch_due ON poll_watch (next_poll_at) WHERE next_poll_at IS NOT NULL;

-- Last published content of each metadata record, so an unchanged record is not re-published.
CREATE TABLE IF NOT EXISTS poller_metadata_hashes (
    kind       text NOT NULL,
    record_id  text NOT NULL,
    hash       text NOT NULL,
    PRIMARY KEY (kind, record_id)
);

-- Consumer bookkeeping shared by every transactional consumer (projectors, evaluator).
CREATE TABLE IF NOT EXISTS consumer_checkpoints (
    consumer    text PRIMARY KEY,
    stream_seq  bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS processed_events (
    consumer  text NOT NULL,
    event_id  text NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- Deliveries refused with 400, kept for inspection (never published).
CREATE TABLE IF NOT EXISTS rejected_webhooks (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL,
    reason       text NOT NULL,
    body         bytea NOT NULL
);

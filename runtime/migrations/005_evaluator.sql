-- The evaluator's own state (it never reads projector tables).
-- Facts about each application, in stream order: its state is the fold of these.
CREATE TABLE IF NOT EXISTS evaluator_events (
    application_id  text NOT NULL,
    stream_seq      bigint NOT NULL,
    event_id        text NOT NULL UNIQUE,
    envelope        jsonb NOT NULL,
    PRIMARY KEY (application_id, stream_seq)
);

-- Catalog facts (plans with stages, archive reasons) and rule-set versions.
CREATE TABLE IF NOT EXISTS evaluator_catalog (
    event_id    text PRIMARY KEY,
    stream_seq  bigint NOT NULL,
    envelope    jsonb NOT NULL
);

CREATE TABLE IF NOT EXISTS evaluator_rulesets (
    version       int PRIMARY KEY,
    document      jsonb NOT NULL,
    activated_at  timestamptz NOT NULL,
    stream_seq    bigint NOT NULL
);

-- Every decision, once per (rule-set version, application, stage, outcome); status follows outcomes.
CREATE TABLE IF NOT EXISTS evaluator_decisions (
    decision_id       text PRIMARY KEY,
    application_id    text NOT NULL,
    stage_id          text NOT NULL,
    rule_set_version  int NOT NULL,
    rule_id           text NOT NULL,
    outcome           text NOT NULL,
    mode              text NOT NULL,
    dry_run           boolean NOT NULL,
    target_stage_id   text,
    archive_reason_id text,
    command_id        text,
    command_type      text,
    status            text NOT NULL,
    status_reason     text,
    explanation       jsonb NOT NULL,
    decided_at        timestamptz NOT NULL,
    UNIQUE (rule_set_version, application_id, stage_id, outcome)
);
CREATE INDEX IF NOT EXISTS evaluator_decisions_app ON evaluator_decisions (application_id, decided_at);
CREATE INDEX IF NOT EXISTS evaluator_decisions_command ON evaluator_decisions (command_id);

-- What each undecided application waits for, and until when (also the durable timer).
CREATE TABLE IF NOT EXISTS evaluator_pending (
    application_id  text PRIMARY KEY,
    stage_id        text,
    rule_id         text,
    waiting_for     jsonb NOT NULL,
    fire_at         timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluator_pending_fire ON evaluator_pending (fire_at) WHERE fire_at IS NOT NULL;

-- Transactional outbox: written with the decision, published by the relay with its id as Nats-Msg-Id.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    message_id    text NOT NULL UNIQUE,
    subject       text NOT NULL,
    envelope      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Rule-set versions handed out by the operator API (ingest): immutable, never reused.
CREATE TABLE IF NOT EXISTS ruleset_versions (
    version     serial PRIMARY KEY,
    digest      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Rule sets as activated (projection of RuleSetActivated) for GET /api/rulesets.
CREATE TABLE IF NOT EXISTS rulesets (
    version       int PRIMARY KEY,
    document      jsonb NOT NULL,
    activated_by  text,
    activated_at  timestamptz NOT NULL,
    stream_seq    bigint NOT NULL
);

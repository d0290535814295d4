-- Issue 21: the undo window for archives, and merged / moved candidates.

-- An archive waiting for its undo window (the evaluator's durable timer): released to the outbox at
-- due_at by the timer loop, unless an Undo (or a merge / move) settled it first.
-- status: scheduled | released | undone | cancelled
CREATE TABLE IF NOT EXISTS evaluator_archive_windows (
    command_id      text PRIMARY KEY,
    application_id  text NOT NULL,
    stage_id        text NOT NULL,
    job_id          text,
    due_at          timestamptz NOT NULL,
    status          text NOT NULL,
    subject         text NOT NULL,
    envelope        jsonb NOT NULL,
    scheduled_at    timestamptz NOT NULL,
    settled_at      timestamptz,
    settled_by      text,
    reason          text
);
CREATE INDEX IF NOT EXISTS evaluator_archive_windows_due ON evaluator_archive_windows (due_at)
    WHERE status = 'scheduled';
CREATE INDEX IF NOT EXISTS evaluator_archive_windows_app ON evaluator_archive_windows (application_id);

-- Where the application stood when its pending evaluation was recorded (a move to another job or
-- plan cancels it with a reason).
ALTER TABLE evaluator_pending ADD COLUMN IF NOT EXISTS job_id text;
ALTER TABLE evaluator_pending ADD COLUMN IF NOT EXISTS plan_id text;

-- The Slack message of an archive's undo window: a proposal's message, or a notice for an archive
-- a rule made on its own (kind 'archive_notice').
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'proposal';
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS archive_command_id text;
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS archive_due_at timestamptz;
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS window_state text;  -- scheduled | released | undone | cancelled
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS window_by text;
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS window_reason text;
CREATE INDEX IF NOT EXISTS notifier_proposals_archive ON notifier_proposals (archive_command_id);

-- Which candidate each application belongs to (from the snapshots ingest took), so a candidate
-- merge finds the applications of the merged-away candidate.
CREATE TABLE IF NOT EXISTS ingest_applications (
    application_id  text PRIMARY KEY,
    candidate_id    text,
    job_id          text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ingest_applications_candidate ON ingest_applications (candidate_id);

-- The story of a surviving application includes the applications merged into it.
CREATE INDEX IF NOT EXISTS event_log_merged_into ON event_log ((payload->>'surviving_application_id'))
    WHERE event_type = 'ApplicationMerged';

-- Candidate merges waiting for the poller to read Ashby (which applications survived).
CREATE TABLE IF NOT EXISTS ingest_merges (
    event_id              text PRIMARY KEY,
    deleted_candidate_id  text NOT NULL,
    merged_candidate_id   text NOT NULL,
    status                text NOT NULL DEFAULT 'pending',   -- pending | done
    attempts              int NOT NULL DEFAULT 0,
    next_at               timestamptz NOT NULL DEFAULT now(),
    last_error            text,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ingest_merges_due ON ingest_merges (next_at) WHERE status = 'pending';

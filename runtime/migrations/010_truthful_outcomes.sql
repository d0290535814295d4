-- Dead letters retried by `autoadvance dlq retry` (the DLQ stream itself denies deletes).
CREATE TABLE IF NOT EXISTS dlq_retries (
    dlq_seq bigint PRIMARY KEY,
    retried_at timestamptz NOT NULL DEFAULT now(),
    republished_seq bigint
);

-- What Ashby answered to the archive a recruiter asked for from a proposal.
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS outcome text;
ALTER TABLE notifier_proposals ADD COLUMN IF NOT EXISTS outcome_reason text;

-- Erasure by crypto-shredding (docs/decisions/0008-erasure.md): each candidate's personal data is
-- stored only encrypted under the candidate's own key; erasing the candidate deletes the key.

-- One data key per candidate, wrapped (AES-GCM) with the master key PII_MASTER_KEY, which is never
-- in the database. Written once per candidate and deleted on erasure; nothing else touches the row,
-- so no update leaves old copies of it behind.
CREATE TABLE IF NOT EXISTS pii_keys (
    candidate_id  text PRIMARY KEY,
    wrapped_key   bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- What we know of each candidate whose personal data passed through: when it was last seen (for
-- PII_RETENTION_DAYS), the name and email for display (sealed under the candidate's key), and the
-- erasure, which stays recorded (with ids only) so the candidate is never given a new key.
CREATE TABLE IF NOT EXISTS pii_candidates (
    candidate_id  text PRIMARY KEY,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    profile       text,
    erased_at     timestamptz,
    erased_by     text,
    erase_reason  text
);
CREATE INDEX IF NOT EXISTS pii_candidates_retention ON pii_candidates (last_seen_at) WHERE erased_at IS NULL;

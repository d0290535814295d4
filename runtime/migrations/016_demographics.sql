-- Demographic categories an operator imported (issue 20): apart from the event log, so they can be
-- erased (by candidate, or by whole import) without touching the audit trail. Never logged.
CREATE TABLE IF NOT EXISTS demographic_imports (
    import_id    text PRIMARY KEY,          -- the file's digest: the same file again is the same import
    columns      text[] NOT NULL,
    rows         int NOT NULL,
    imported_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per candidate: the categories of the newest import that named them (unknown ones absent).
CREATE TABLE IF NOT EXISTS demographics (
    candidate_id  text PRIMARY KEY,
    categories    jsonb NOT NULL,
    import_id     text NOT NULL REFERENCES demographic_imports (import_id) ON DELETE CASCADE,
    imported_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS demographics_import ON demographics (import_id);

-- The impact report takes the first final decision of each (application, stage).
CREATE INDEX IF NOT EXISTS evaluator_decisions_final_first
    ON evaluator_decisions (application_id, stage_id, decided_at, decision_id)
    WHERE outcome IN ('advance', 'propose_rejection', 'archive');

-- Executor lease: one attempt in flight per command across replicas and redeliveries.
-- status: started (a holder works; expired = it died) | pending (nothing in flight) |
--         unknown (a write's answer was lost) | succeeded | skipped | failed
ALTER TABLE executor_inbox ADD COLUMN IF NOT EXISTS lease_holder text;
ALTER TABLE executor_inbox ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz;
ALTER TABLE executor_inbox ADD COLUMN IF NOT EXISTS reconcile text;  -- why the current attempt reads first

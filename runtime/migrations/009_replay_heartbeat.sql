-- A running replay's process touches heartbeat_at (and events_read) every few seconds; a row still
-- 'running' whose heartbeat stopped belongs to a process that died, and is reported as failed
-- instead of running forever. Rows from before this column count from created_at.
ALTER TABLE replays ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;

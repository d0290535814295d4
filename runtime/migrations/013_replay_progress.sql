-- The console's live progress bar for a replay: how many events the replay will read (counted when
-- it starts, up to its `until`), beside events_read which its heartbeat updates.
ALTER TABLE replays ADD COLUMN IF NOT EXISTS events_total bigint;

-- The console's live progress bar for a replay: how many events the replay will read (counted when
-- it starts, up to its `until`), beside events_read which its heartbeat updates.
ALTER TABLE replays ADD COLUMN IF NOT EXISTS events_total bigint;

-- The console's pages at 100,000 applications (bench/ui.py): failed Slack messages newest first,
-- open rejection proposals oldest first (walked in posting order, each probed against the open
-- proposals), and what is pending in the order /ui/pending shows it.
CREATE INDEX IF NOT EXISTS notifier_inbox_failed ON notifier_inbox (updated_at) WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS notifier_inbox_proposals_posted ON notifier_inbox (updated_at)
    WHERE command_type = 'ProposeRejection';
CREATE INDEX IF NOT EXISTS evaluator_pending_order ON evaluator_pending (fire_at, application_id);

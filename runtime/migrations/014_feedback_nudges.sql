-- Feedback nudges and stage SLAs (issue 21): each nudge and escalation the evaluator issued, once per
-- (interview event, interviewer, due time), with what Slack made of it; and, on the pending row,
-- the earliest due time of the feedback still missing (for GET /api/overdue).
CREATE TABLE IF NOT EXISTS evaluator_nudges (
    nudge_id            text PRIMARY KEY,
    kind                text NOT NULL,            -- nudge | escalation
    application_id      text NOT NULL,
    stage_id            text NOT NULL,
    interview_event_id  text NOT NULL,
    interviewer_id      text NOT NULL,
    due_at              timestamptz NOT NULL,
    command_id          text NOT NULL,
    issued_at           timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'issued',   -- issued | sent | skipped | failed
    status_reason       text,
    sent_at             timestamptz
);
CREATE INDEX IF NOT EXISTS evaluator_nudges_app ON evaluator_nudges (application_id, issued_at);
CREATE INDEX IF NOT EXISTS evaluator_nudges_command ON evaluator_nudges (command_id);

ALTER TABLE evaluator_pending ADD COLUMN IF NOT EXISTS feedback_due_at timestamptz;
ALTER TABLE evaluator_pending ADD COLUMN IF NOT EXISTS late jsonb;
CREATE INDEX IF NOT EXISTS evaluator_pending_overdue ON evaluator_pending (feedback_due_at)
    WHERE feedback_due_at IS NOT NULL;

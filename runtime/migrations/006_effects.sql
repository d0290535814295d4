-- Executor inbox: a command id is recorded before Ashby is called; a second delivery is a no-op.
CREATE TABLE IF NOT EXISTS executor_inbox (
    command_id      text PRIMARY KEY,
    command_type    text NOT NULL,
    application_id  text NOT NULL,
    status          text NOT NULL,          -- started | succeeded | skipped | failed
    reason          text,
    attempts        int NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Notifier inbox: one Slack message per command id; the message's channel/ts once posted.
CREATE TABLE IF NOT EXISTS notifier_inbox (
    command_id      text PRIMARY KEY,
    command_type    text NOT NULL,
    application_id  text,
    status          text NOT NULL,          -- started | posted | failed
    channel         text,
    ts              text,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Proposals awaiting a recruiter, so a click can be checked and the message updated.
CREATE TABLE IF NOT EXISTS notifier_proposals (
    command_id      text PRIMARY KEY,
    application_id  text NOT NULL,
    channel         text NOT NULL,
    ts              text NOT NULL,
    text            text NOT NULL,
    blocks          jsonb NOT NULL,
    decided_by      text,
    choice          text,
    decided_at      timestamptz
);

CREATE TABLE IF NOT EXISTS notifier_slack_users (
    email_hash  text PRIMARY KEY,
    slack_user  text,
    cached_at   timestamptz NOT NULL
);

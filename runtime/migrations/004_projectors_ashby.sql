-- Applications as Ashby last reported them (newest report wins).
CREATE TABLE IF NOT EXISTS applications (
    application_id     text PRIMARY KEY,
    candidate_id       text,
    job_id             text,
    interview_plan_id  text,
    current_stage_id   text,
    status             text,
    hiring_team        jsonb NOT NULL DEFAULT '[]',
    reported_at        timestamptz NOT NULL,
    stream_seq         bigint NOT NULL
);

-- Feedback submissions with their field values; an edit (later submittedAt) replaces the earlier one.
CREATE TABLE IF NOT EXISTS feedback_submissions (
    feedback_id           text PRIMARY KEY,
    application_id        text NOT NULL,
    submitted_at          timestamptz,
    submitted_by_user_id  text,
    interview_id          text,
    interview_event_id    text,
    form_definition_id    text,
    submitted_values      jsonb NOT NULL,
    stream_seq            bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_submissions_app ON feedback_submissions (application_id);

-- Metadata a rule builder needs: jobs, plans, forms, interviews, users, archive reasons.
CREATE TABLE IF NOT EXISTS metadata_records (
    kind        text NOT NULL,
    record_id   text NOT NULL,
    data        jsonb NOT NULL,
    stream_seq  bigint NOT NULL,
    PRIMARY KEY (kind, record_id)
);

CREATE TABLE IF NOT EXISTS interview_stages (
    stage_id           text PRIMARY KEY,
    interview_plan_id  text NOT NULL,
    title              text,
    type               text,
    order_in_plan      int,
    stream_seq         bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS interview_stages_plan ON interview_stages (interview_plan_id, order_in_plan);

CREATE TABLE IF NOT EXISTS feedback_form_fields (
    form_definition_id  text NOT NULL,
    path                text NOT NULL,
    title               text,
    type                text,
    is_required         boolean,
    selectable_values   jsonb,
    PRIMARY KEY (form_definition_id, path)
);

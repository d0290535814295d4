-- Indexes for the operator console's pages: the inbox pages decisions newest first by keyset
-- (decided_at, decision_id), alone or filtered by outcome, stage or rule-set version, or by job.
CREATE INDEX IF NOT EXISTS evaluator_decisions_recent ON evaluator_decisions (decided_at DESC, decision_id DESC);
CREATE INDEX IF NOT EXISTS evaluator_decisions_outcome_recent ON evaluator_decisions (outcome, decided_at DESC, decision_id DESC);
CREATE INDEX IF NOT EXISTS evaluator_decisions_stage_recent ON evaluator_decisions (stage_id, decided_at DESC, decision_id DESC);
CREATE INDEX IF NOT EXISTS evaluator_decisions_version_recent ON evaluator_decisions (rule_set_version, decided_at DESC, decision_id DESC);
CREATE INDEX IF NOT EXISTS applications_job ON applications (job_id);
CREATE INDEX IF NOT EXISTS executor_inbox_failed ON executor_inbox (updated_at) WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS executor_inbox_app ON executor_inbox (application_id);
CREATE INDEX IF NOT EXISTS notifier_inbox_app ON notifier_inbox (application_id);
CREATE INDEX IF NOT EXISTS notifier_proposals_open ON notifier_proposals (command_id) WHERE decided_at IS NULL;

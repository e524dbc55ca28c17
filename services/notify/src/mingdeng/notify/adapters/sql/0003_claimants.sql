-- Which notifier claimed a message, and which notifiers are alive: a claim by one that is gone
-- (stopped, or not seen within the lease: killed) is settled at once, not after SETTLE_AFTER_S.
ALTER TABLE notify.outbox ADD COLUMN claimed_by text;
CREATE INDEX outbox_sending ON notify.outbox (key) WHERE status = 'sending';

CREATE TABLE notify.instances (
    instance_id text PRIMARY KEY,
    seen_at     timestamptz NOT NULL
);

-- The overdue schedule reads the open commendation tasks only, not every task ever made.
CREATE INDEX tasks_open_commendations ON notify.tasks (task_id)
    WHERE body ->> 'kind' = 'commendation' AND body ->> 'status' = 'open';

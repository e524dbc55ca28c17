-- Issue 25: what the notifier keeps is its agency's. The same key in two agencies is two rows
-- (the same member id in two agencies is two people); rows before agencies are the default
-- agency's.
ALTER TABLE notify.outbox ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE notify.outbox DROP CONSTRAINT outbox_pkey, ADD PRIMARY KEY (agency, key);
DROP INDEX notify.outbox_unpublished;
CREATE INDEX outbox_unpublished ON notify.outbox (agency, key) WHERE version > published_version;
DROP INDEX notify.outbox_sending;
CREATE INDEX outbox_sending ON notify.outbox (agency, key) WHERE status = 'sending';

ALTER TABLE notify.tasks ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE notify.tasks DROP CONSTRAINT tasks_pkey, ADD PRIMARY KEY (agency, task_id);
DROP INDEX notify.tasks_open_commendations;
CREATE INDEX tasks_open_commendations ON notify.tasks (agency, task_id)
    WHERE body ->> 'kind' = 'commendation' AND body ->> 'status' = 'open';
DROP INDEX notify.open_meeting_tasks;
CREATE INDEX open_meeting_tasks ON notify.tasks (agency, (body ->> 'branch_id'), (body ->> 'cause'))
    WHERE body ->> 'kind' = 'meeting' AND body ->> 'status' = 'open';

ALTER TABLE notify.bulletins ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE notify.bulletins DROP CONSTRAINT bulletins_pkey, ADD PRIMARY KEY (agency, month);

ALTER TABLE notify.selections ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE notify.selections DROP CONSTRAINT selections_pkey, ADD PRIMARY KEY (agency, quarter);

ALTER TABLE notify.schedule_runs ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE notify.schedule_runs DROP CONSTRAINT schedule_runs_pkey,
    ADD PRIMARY KEY (agency, schedule, period);

ALTER TABLE notify.maxim_rotation ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE notify.maxim_rotation DROP CONSTRAINT maxim_rotation_pkey,
    ADD PRIMARY KEY (agency, maxim_id);

-- Issue 25: a pairing's reminders are its agency's (the same ids in two agencies are two
-- pairings); those before agencies are the default agency's.
ALTER TABLE outreach.reminders ADD COLUMN agency text NOT NULL DEFAULT 'default';
ALTER TABLE outreach.reminders DROP CONSTRAINT reminders_pkey,
    ADD PRIMARY KEY (agency, household_id, member_id);

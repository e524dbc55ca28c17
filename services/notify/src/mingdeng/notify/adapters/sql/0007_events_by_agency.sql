-- Issue 26: several notifiers share the agencies (ADR 0005); an instance folds the events of
-- the agencies it holds, read by agency.
ALTER TABLE notify.events
    ADD COLUMN agency text GENERATED ALWAYS AS (coalesce(body->>'agency', 'default')) STORED;
CREATE INDEX events_by_agency ON notify.events (agency, time, source, id);

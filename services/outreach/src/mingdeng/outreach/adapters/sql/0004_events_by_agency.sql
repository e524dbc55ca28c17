-- Issue 26: several outreach instances share the agencies (ADR 0005); an instance folds the
-- events of the agencies it holds, read by agency.
ALTER TABLE outreach.events
    ADD COLUMN agency text GENERATED ALWAYS AS (coalesce(body->>'agency', 'default')) STORED;
CREATE INDEX events_by_agency ON outreach.events (agency, time, source, id);

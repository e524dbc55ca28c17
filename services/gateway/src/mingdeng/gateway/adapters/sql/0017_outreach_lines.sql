-- Outreach publishes the lines of its long lists as views of their own (a member's coverage in
-- a period, an overdue pairing, a household to pair again; `null` once there is nothing to
-- show), not inside whole views. The whole views of earlier versions are gone: outreach
-- publishes every view and line again when it starts.
ALTER TABLE gateway.outreach_views ADD COLUMN period text;
DELETE FROM gateway.outreach_views WHERE view IN ('coverage', 'overdue', 'reassignment');
CREATE INDEX outreach_views_lines ON gateway.outreach_views (view, period, member_id COLLATE "C")
    WHERE body <> 'null'::jsonb;
CREATE INDEX outreach_views_computed_at ON gateway.outreach_views (computed_at);

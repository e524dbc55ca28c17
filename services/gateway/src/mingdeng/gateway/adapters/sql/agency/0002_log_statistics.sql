-- Issue 21: the logs of events (one row an event, read by their key or joined on it) are
-- analyzed with a sample of 3,000 rows and no statistics of their JSON: an ANALYZE of one took
-- 300-750 ms (most of PostgreSQL's time under 1,000 events/s on a young installation, when the
-- tables grow a fifth every few seconds), 12-16 ms so. No plan reads their JSON's statistics.
ALTER TABLE event_facts ALTER COLUMN source SET STATISTICS 10, ALTER COLUMN id SET STATISTICS 10,
    ALTER COLUMN type SET STATISTICS 10, ALTER COLUMN "time" SET STATISTICS 10,
    ALTER COLUMN data SET STATISTICS 0;
ALTER TABLE event_status ALTER COLUMN source SET STATISTICS 10, ALTER COLUMN id SET STATISTICS 10,
    ALTER COLUMN status SET STATISTICS 10, ALTER COLUMN late_for SET STATISTICS 10,
    ALTER COLUMN updated_at SET STATISTICS 10, ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE contributions ALTER COLUMN quarter SET STATISTICS 10, ALTER COLUMN level SET STATISTICS 10,
    ALTER COLUMN subject_id SET STATISTICS 10, ALTER COLUMN component SET STATISTICS 10,
    ALTER COLUMN source SET STATISTICS 10, ALTER COLUMN id SET STATISTICS 10,
    ALTER COLUMN type SET STATISTICS 10;
ALTER TABLE outreach_views ALTER COLUMN body SET STATISTICS 0;
ALTER TABLE notifications ALTER COLUMN body SET STATISTICS 0;

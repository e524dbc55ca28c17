-- Issue 21: the log of what notify keeps (read in order or by its key) is analyzed with a sample
-- of 3,000 rows and no statistics of its JSON: an ANALYZE took 300-750 ms as it grew (most of
-- PostgreSQL's time under 1,000 events/s on a young installation), 12-16 ms so.
-- (Every column: the sample is 300 rows times the largest target of any column.)
ALTER TABLE notify.events ALTER COLUMN source SET STATISTICS 10, ALTER COLUMN id SET STATISTICS 10,
    ALTER COLUMN type SET STATISTICS 10, ALTER COLUMN "time" SET STATISTICS 10,
    ALTER COLUMN agency SET STATISTICS 10, ALTER COLUMN body SET STATISTICS 0;

-- The registry is ordered by the stamp (time, source, id) of its events, as every service folds
-- it (docs/events.md, "Registry order"): beside each time, the source and id of the event that
-- won. Rows written before carry '' for both, which orders them as the time alone did; a rebuild
-- (`mingdeng-gateway rebuild`) writes the exact stamps.
ALTER TABLE gateway.branches
    ADD COLUMN stamp_source text NOT NULL DEFAULT '',
    ADD COLUMN stamp_id     text NOT NULL DEFAULT '';
ALTER TABLE gateway.departments
    ADD COLUMN stamp_source text NOT NULL DEFAULT '',
    ADD COLUMN stamp_id     text NOT NULL DEFAULT '';
ALTER TABLE gateway.members
    ADD COLUMN registered_source text NOT NULL DEFAULT '',
    ADD COLUMN registered_id     text NOT NULL DEFAULT '',
    ADD COLUMN left_source       text,   -- with left_at: the newest departure
    ADD COLUMN left_id           text;
UPDATE gateway.members SET left_source = '', left_id = '' WHERE left_at IS NOT NULL;

-- A member is active while no departure is later than their registration, stamps compared as
-- rows, strings in code-point order (as Python compares them, whatever the database's collation).
-- A departure read before any registration keeps a row registered at '-infinity': not active.
CREATE VIEW gateway.active_members AS
    SELECT * FROM gateway.members
    WHERE left_at IS NULL
       OR (left_at, left_source COLLATE "C", left_id COLLATE "C")
        < (registered_at, registered_source COLLATE "C", registered_id COLLATE "C");

-- The registry's version, bumped by the projector in the transaction that changes a member,
-- department or branch: the API keeps who-may-see-what in memory and reloads it only when the
-- version moved (a primary-key read per request instead of the whole registry).
CREATE TABLE gateway.registry_version (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO gateway.registry_version (version) VALUES (0);

-- rankings are paged in SQL: rank order, then id, within a quarter and level
DROP INDEX IF EXISTS gateway.scores_by_rank;
CREATE INDEX scores_by_rank ON gateway.scores (quarter, level, rank NULLS LAST, id);

-- Ingestion claims (source, id) before publishing and confirms after the broker acknowledged;
-- the content hash tells a re-sent event (duplicate) from a different one under the same key.
ALTER TABLE gateway.accepted_events
    ADD COLUMN content_hash text,
    ADD COLUMN published    boolean NOT NULL DEFAULT true,
    ADD COLUMN claimed_at   timestamptz NOT NULL DEFAULT now();

-- Dead letters keep the record's bytes as they were (a NUL included) beside the readable body.
ALTER TABLE gateway.dead_letters
    ADD COLUMN raw bytea,
    ADD COLUMN reason text,
    ADD COLUMN redriven_at timestamptz;

-- Several instances of a consumer share its partitions (issue 26): each assignment of a
-- partition raises its epoch, and a transaction stores offsets only under the epoch its
-- instance claimed, so an instance that lost a partition (a zombie) can never commit for it
-- again. A partition claimed before any record of it was stored has no offset yet.
ALTER TABLE public.consumer_offsets
    ALTER COLUMN next_offset DROP NOT NULL,
    ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;

-- A record whose agency another instance holds (its home partition of the inbound topic is
-- that instance's), kept for it in the transaction that moves this instance's offset past it;
-- the holder applies it and deletes it in one transaction (docs/decisions/0005).
CREATE TABLE IF NOT EXISTS public.forwarded_records (
    consumer      text     NOT NULL,
    home          integer  NOT NULL,
    topic         text     NOT NULL,
    partition     integer  NOT NULL,
    "offset"      bigint   NOT NULL,
    key           bytea,
    value         bytea,
    header_names  text[]   NOT NULL,
    header_values bytea[]  NOT NULL,
    timestamp_ms  bigint   NOT NULL,
    forwarded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS forwarded_records_home ON public.forwarded_records (consumer, home);

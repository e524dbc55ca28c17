-- Records a consumer could not take, for a reason that will not change: kept byte for byte with
-- the reason, in the transaction that moves the consumer's offset past them (docs/operations.md).
CREATE TABLE IF NOT EXISTS public.parked_records (
    consumer    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    "offset"    bigint      NOT NULL,
    key         bytea,
    value       bytea,
    reason      text        NOT NULL,
    error       text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    redriven_at timestamptz,
    PRIMARY KEY (consumer, topic, partition, "offset")
);

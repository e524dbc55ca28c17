-- The inbound events outreach reads, kept once per (source, id); its state is folded from them.
CREATE TABLE outreach.events (
    source text NOT NULL,
    id     text NOT NULL,
    type   text NOT NULL,
    time   timestamptz NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (source, id)
);

-- When each pairing's member was last reminded of an overdue visit (at most once per 14 days).
CREATE TABLE outreach.reminders (
    household_id text NOT NULL,
    member_id    text NOT NULL,
    reminded_at  timestamptz NOT NULL,
    PRIMARY KEY (household_id, member_id)
);

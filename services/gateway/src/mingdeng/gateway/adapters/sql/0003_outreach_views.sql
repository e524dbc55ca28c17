-- Outreach read models as the outreach service publishes them (one row per view key).
CREATE TABLE gateway.outreach_views (
    key         text PRIMARY KEY,
    view        text NOT NULL,
    member_id   text,
    body        jsonb NOT NULL,
    computed_at timestamptz NOT NULL
);

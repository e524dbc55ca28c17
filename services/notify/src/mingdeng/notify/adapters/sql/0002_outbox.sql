-- The inbound events the notifier reads, kept once per (source, id); its state is folded from them.
CREATE TABLE notify.events (
    source text NOT NULL,
    id     text NOT NULL,
    type   text NOT NULL,
    time   timestamptz NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (source, id)
);

-- Every message, once per key (rule/recipient/cause). 'sending' is committed before the
-- provider is called: a crash leaves it there, to be settled with the provider, never resent
-- blindly. `version` > `published_version` means the record is still to be published.
CREATE TABLE notify.outbox (
    key                 text PRIMARY KEY,
    rule                text NOT NULL,
    recipient_id        text NOT NULL,
    cause               text NOT NULL,
    phone               text,
    text                text NOT NULL,
    params              jsonb NOT NULL,
    urgent              boolean NOT NULL,
    status              text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
    reason              text,
    attempts            integer NOT NULL DEFAULT 0,
    not_before          timestamptz NOT NULL,
    claimed_at          timestamptz,
    sent_at             timestamptz,
    provider            text,
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    version             bigint NOT NULL DEFAULT 1,
    published_version   bigint NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON notify.outbox (not_before) WHERE status = 'queued';
CREATE INDEX outbox_sent_to ON notify.outbox (phone, sent_at) WHERE status = 'sent';
CREATE INDEX outbox_unpublished ON notify.outbox (key) WHERE version > published_version;

CREATE TABLE notify.tasks (
    task_id           text PRIMARY KEY,
    body              jsonb NOT NULL,
    version           bigint NOT NULL DEFAULT 1,
    published_version bigint NOT NULL DEFAULT 0
);

CREATE TABLE notify.bulletins (
    month             text PRIMARY KEY,
    body              jsonb NOT NULL,
    version           bigint NOT NULL DEFAULT 1,
    published_version bigint NOT NULL DEFAULT 0
);

-- Final selections the notifier has seen (commendation tasks are derived from them).
CREATE TABLE notify.selections (
    quarter text PRIMARY KEY,
    body    jsonb NOT NULL
);

-- One row per run of a schedule: the claim that makes it run once per period.
CREATE TABLE notify.schedule_runs (
    schedule   text NOT NULL,
    period     text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, period)
);

CREATE TABLE notify.maxim_rotation (
    maxim_id     text PRIMARY KEY,
    last_sent_on text NOT NULL
);

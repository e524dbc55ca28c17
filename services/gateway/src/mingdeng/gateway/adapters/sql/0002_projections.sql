-- Read models of the gateway, written by its projector with the consumed offsets (one transaction).
CREATE TABLE gateway.scores (
    quarter       text NOT NULL,
    level         text NOT NULL CHECK (level IN ('member', 'department', 'branch')),
    id            text NOT NULL,
    department_id text,
    branch_id     text,
    rank          integer NOT NULL,
    index_exact   double precision NOT NULL,
    status        text NOT NULL,
    body          jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (quarter, level, id)
);
CREATE INDEX scores_by_rank ON gateway.scores (quarter, level, rank, id);

CREATE TABLE gateway.selections (
    key        text PRIMARY KEY,          -- '2026Q3' or '2026'
    kind       text NOT NULL CHECK (kind IN ('quarter', 'year')),
    status     text NOT NULL,
    body       jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway.event_status (
    source     text NOT NULL,
    id         text NOT NULL,
    status     text NOT NULL,
    body       jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

-- Ingestion ledger: (source, id) accepted by POST /v1/events, for idempotency and 'accepted'.
CREATE TABLE gateway.accepted_events (
    source      text NOT NULL,
    id          text NOT NULL,
    type        text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);

-- Registry, for names and for who may see what. Newest by event time wins.
CREATE TABLE gateway.branches (
    branch_id text PRIMARY KEY,
    name      text NOT NULL,
    stamp     timestamptz NOT NULL
);
CREATE TABLE gateway.departments (
    department_id text PRIMARY KEY,
    name          text NOT NULL,
    branch_id     text NOT NULL,
    leader_id     text NOT NULL,
    stamp         timestamptz NOT NULL
);
CREATE TABLE gateway.members (
    member_id     text PRIMARY KEY,
    name          text NOT NULL,
    department_id text NOT NULL,
    phone         text,
    roles         text[] NOT NULL,
    party_member  boolean NOT NULL,
    registered_at timestamptz NOT NULL,
    left_at       timestamptz
);

CREATE TABLE gateway.dead_letters (
    topic     text NOT NULL,
    partition integer NOT NULL,
    "offset"  bigint NOT NULL,
    body      jsonb NOT NULL,
    PRIMARY KEY (topic, partition, "offset")
);

-- The 机关工委's view across its agencies (issue 25, item 5): a schema of its own, fed by every
-- agency's records whatever agency the rest of the gateway serves (read_models/committee.py).
-- A row per fact that counts (a member, a score, a lecture, a violation, a task) and the figures
-- per agency that those rows add up to, moved by each row's change: no page counts history.
CREATE SCHEMA committee;

CREATE TABLE committee.agency_figures (
    agency        text PRIMARY KEY,
    members       integer NOT NULL DEFAULT 0,  -- active members
    last_event_at timestamptz                  -- when the platform last received its event
);
CREATE TABLE committee.agency_quarters (
    agency         text NOT NULL,
    quarter        text NOT NULL,
    vanguard_sum   numeric NOT NULL DEFAULT 0,  -- of index_exact, exact whatever the order
    vanguard_count integer NOT NULL DEFAULT 0,
    fortress_sum   numeric NOT NULL DEFAULT 0,  -- of its branches' Fortress Index
    fortress_count integer NOT NULL DEFAULT 0,
    violations     integer NOT NULL DEFAULT 0,  -- logged, not retracted
    PRIMARY KEY (agency, quarter)
);
CREATE TABLE committee.agency_years (
    agency   text NOT NULL,
    year     integer NOT NULL,
    lectures integer NOT NULL DEFAULT 0,  -- 讲堂 期 delivered
    PRIMARY KEY (agency, year)
);

CREATE TABLE committee.members (
    agency       text NOT NULL,
    member_id    text NOT NULL,
    active       boolean NOT NULL,
    stamp        timestamptz NOT NULL,
    stamp_source text NOT NULL,
    stamp_id     text NOT NULL,
    PRIMARY KEY (agency, member_id)
);
CREATE TABLE committee.member_scores (
    agency    text NOT NULL,
    quarter   text NOT NULL,
    member_id text NOT NULL,
    index_exact double precision NOT NULL,
    PRIMARY KEY (agency, quarter, member_id)
);
CREATE TABLE committee.branch_scores (
    agency      text NOT NULL,
    quarter     text NOT NULL,
    branch_id   text NOT NULL,
    name        text NOT NULL,
    index       double precision NOT NULL,  -- as shown (2 decimals)
    index_exact double precision NOT NULL,  -- as ranked
    PRIMARY KEY (agency, quarter, branch_id)
);
CREATE INDEX branch_scores_ranked
    ON committee.branch_scores (quarter, index_exact DESC, agency, branch_id);
CREATE TABLE committee.lectures (
    agency       text NOT NULL,
    lecture_id   text NOT NULL,
    year         integer NOT NULL,
    delivered_at timestamptz NOT NULL,  -- the earliest delivery holds
    PRIMARY KEY (agency, lecture_id)
);
CREATE TABLE committee.violations (
    agency       text NOT NULL,
    violation_id text NOT NULL,
    quarter      text NOT NULL,  -- '' while only its retraction is known
    logged       boolean NOT NULL,
    retracted    boolean NOT NULL,
    PRIMARY KEY (agency, violation_id)
);
CREATE TABLE committee.tasks (
    agency  text NOT NULL,
    task_id text NOT NULL,
    open    boolean NOT NULL,
    due     timestamptz NOT NULL,
    PRIMARY KEY (agency, task_id)
);
CREATE INDEX tasks_open ON committee.tasks (agency, due) WHERE open;
CREATE TABLE committee.coverage (
    agency      text NOT NULL,
    quarter     text NOT NULL,
    pairings    integer NOT NULL,
    visited     integer NOT NULL,
    rate        double precision,  -- none without pairings
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (agency, quarter)
);

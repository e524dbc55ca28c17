-- The work members, secretaries and the office do on the pages (issue 23), as the log says it
-- was done: violations with their retractions (what a member may appeal), appeals and their
-- decisions, members' reports and their confirmation, talks held, and how far each member has
-- read their messages. Filled by the read model `work`; a rebuild fills them from the log.
CREATE TABLE gateway.violations (
    violation_id text PRIMARY KEY,
    member_id    text NOT NULL,
    rule         integer NOT NULL,
    description  text NOT NULL,
    inspector_id text NOT NULL,
    time         timestamptz NOT NULL
);
CREATE INDEX violations_by_member ON gateway.violations (member_id, time);

CREATE TABLE gateway.retractions (
    violation_id text PRIMARY KEY,
    reason       text NOT NULL,
    time         timestamptz NOT NULL
);

CREATE TABLE gateway.appeals (
    appeal_id       text PRIMARY KEY,
    violation_id    text NOT NULL,
    member_id       text NOT NULL,
    reason          text NOT NULL,
    filed_at        timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending',  -- pending, upheld, rejected
    decision_reason text,
    decided_at      timestamptz,
    decided_by      text,  -- the actor of the decision (a dashboard event), or its source
    decided_role    text
);
CREATE INDEX appeals_by_member ON gateway.appeals (member_id, filed_at);
CREATE INDEX appeals_by_violation ON gateway.appeals (violation_id);

CREATE TABLE gateway.reports (
    report_id       text PRIMARY KEY,
    member_id       text NOT NULL,
    kind            text NOT NULL,  -- household, volunteer, community
    happened_on     date NOT NULL,
    household_id    text,
    title           text,
    minutes         integer,
    notes           text,
    submitted_at    timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending',  -- pending, confirmed, rejected
    decision_reason text,
    decided_at      timestamptz,
    decided_by      text,
    counted_as      text
);
CREATE INDEX reports_by_member ON gateway.reports (member_id, submitted_at);
CREATE INDEX reports_pending ON gateway.reports (submitted_at) WHERE status = 'pending';

CREATE TABLE gateway.talks (
    talk_id   text PRIMARY KEY,
    host_id   text NOT NULL,
    member_id text NOT NULL,
    category  text NOT NULL,
    reason    text,
    note      text,
    time      timestamptz NOT NULL,
    source    text NOT NULL,
    id        text NOT NULL
);
CREATE INDEX talks_by_time ON gateway.talks (time);

CREATE TABLE gateway.inbox_reads (
    member_id  text PRIMARY KEY,
    read_until timestamptz NOT NULL
);

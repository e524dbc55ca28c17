-- The report's practice (issue 24): rounds of 党性体检 and members' political health cards
-- (政治“保健卡”), and 支部结对共建 with its activities. Filled by the read model `practice`; a
-- rebuild fills them from the log. (在职党员进社区 is read from gateway.reports.)
CREATE TABLE gateway.health_card_rounds (
    round_id   text PRIMARY KEY,
    title      text NOT NULL,
    questions  text[] NOT NULL,
    closes_on  date NOT NULL,
    opened_at  timestamptz NOT NULL
);

CREATE TABLE gateway.health_cards (
    round_id    text NOT NULL,
    member_id   text NOT NULL,
    answers     text[] NOT NULL,
    filled_at   timestamptz NOT NULL,
    reviewer_id text,
    comment     text,
    reviewed_at timestamptz,
    PRIMARY KEY (round_id, member_id)
);
CREATE INDEX health_cards_by_member ON gateway.health_cards (member_id);

CREATE TABLE gateway.branch_pairings (
    pairing_id   text PRIMARY KEY,
    branch_id    text NOT NULL,
    partner      text NOT NULL,
    partner_kind text NOT NULL,  -- village, community, enterprise
    since        date NOT NULL,
    time         timestamptz NOT NULL
);
CREATE INDEX branch_pairings_by_branch ON gateway.branch_pairings (branch_id);

CREATE TABLE gateway.pairing_activities (
    activity_id  text PRIMARY KEY,
    pairing_id   text NOT NULL,
    held_on      date NOT NULL,
    title        text NOT NULL,
    participants text[] NOT NULL,
    notes        text,
    time         timestamptz NOT NULL
);
CREATE INDEX pairing_activities_by_pairing ON gateway.pairing_activities (pairing_id, held_on);

-- Organisational life (issue 24): each branch's meetings (三会一课, 主题党日) as their secretary
-- recorded them (the newest record of a meeting holds), who was expected and how each took part;
-- and the frontline secondments (一线锻炼).
CREATE TABLE gateway.meetings (
    meeting_id  text PRIMARY KEY,
    branch_id   text NOT NULL,
    kind        text NOT NULL,
    held_on     date NOT NULL,
    topic       text NOT NULL,
    minutes     text,
    recorded_by text NOT NULL,
    expected    integer NOT NULL,
    attended    integer NOT NULL,
    on_leave    integer NOT NULL,  -- leave granted
    absent      integer NOT NULL,  -- absent, or leave refused
    time        timestamptz NOT NULL,
    source      text NOT NULL,
    id          text NOT NULL
);
CREATE INDEX meetings_by_branch ON gateway.meetings (branch_id, kind, held_on DESC);
CREATE INDEX meetings_by_day ON gateway.meetings (held_on DESC, meeting_id);

CREATE TABLE gateway.meeting_presence (
    meeting_id text NOT NULL,
    member_id  text NOT NULL,
    presence   text NOT NULL,  -- attended, leave_granted, leave_refused, absent
    reason     text,           -- of a leave
    held_on    date NOT NULL,
    PRIMARY KEY (meeting_id, member_id)
);
CREATE INDEX meeting_presence_by_member ON gateway.meeting_presence (member_id, held_on DESC);

CREATE TABLE gateway.secondments (
    secondment_id text PRIMARY KEY,
    member_id     text NOT NULL,
    post          text NOT NULL,
    campaign      text NOT NULL,
    from_on       date NOT NULL,
    until_on      date NOT NULL,
    time          timestamptz NOT NULL,
    source        text NOT NULL,
    id            text NOT NULL
);
CREATE INDEX secondments_by_member ON gateway.secondments (member_id);

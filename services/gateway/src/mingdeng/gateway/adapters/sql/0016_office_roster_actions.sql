-- The office's work on the pages (issue 23): the roster shows 出生日期 (born_on: 0013), 入党时间 and 职务 where
-- a registration gives them (an edit on the page keeps what it does not change), and every action published from /dashboard is kept with who did it
-- (the extensions actor and actorrole) for the pages of each action's history.
ALTER TABLE gateway.members
    ADD COLUMN joined_party_on date,
    ADD COLUMN position        text;

CREATE OR REPLACE VIEW gateway.active_members AS
    SELECT * FROM gateway.members
    WHERE left_at IS NULL
       OR (left_at, left_source COLLATE "C", left_id COLLATE "C")
        < (registered_at, registered_source COLLATE "C", registered_id COLLATE "C");

CREATE TABLE gateway.dashboard_actions (
    id        text PRIMARY KEY,  -- the event's id; its source is /dashboard
    type      text NOT NULL,
    subject   text NOT NULL,
    time      timestamptz NOT NULL,
    actor     text NOT NULL,
    actorrole text NOT NULL,
    data      jsonb NOT NULL
);
CREATE INDEX dashboard_actions_by_type ON gateway.dashboard_actions (type, time DESC, id);

CREATE TABLE gateway.tasks (
    task_id     text PRIMARY KEY,
    kind        text NOT NULL,
    assignee_id text NOT NULL,
    member_id   text NOT NULL,
    status      text NOT NULL,
    due         timestamptz NOT NULL,
    body        jsonb NOT NULL
);
CREATE INDEX tasks_by_assignee ON gateway.tasks (assignee_id, status);

CREATE TABLE gateway.notifications (
    key          text PRIMARY KEY,
    recipient_id text NOT NULL,
    status       text NOT NULL,
    updated_at   timestamptz NOT NULL,
    body         jsonb NOT NULL
);
CREATE INDEX notifications_by_recipient ON gateway.notifications (recipient_id, updated_at);

CREATE TABLE gateway.bulletins (
    month text PRIMARY KEY,
    body  jsonb NOT NULL
);

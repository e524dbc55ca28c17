CREATE TABLE gateway.lectures (
    lecture_id   text PRIMARY KEY,
    date         date,
    module       text,
    theme        text,
    title        text,
    speaker_id   text,             -- the scheduled speaker
    scheduled_at timestamptz,
    delivered_at timestamptz,      -- the earliest delivery
    delivered_by text
);
CREATE TABLE gateway.attendances (
    lecture_id  text NOT NULL,
    member_id   text NOT NULL,
    attended_at timestamptz NOT NULL,
    PRIMARY KEY (lecture_id, member_id)
);
-- Every KPI report; the latest by time per (subject, metric, period) is the current value.
CREATE TABLE gateway.kpis (
    source       text NOT NULL,
    id           text NOT NULL,
    subject_type text NOT NULL,
    subject_id   text NOT NULL,
    metric       text NOT NULL,
    period       text NOT NULL,
    value        double precision NOT NULL,
    unit         text,
    reported_at  timestamptz NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX kpis_by_subject ON gateway.kpis (subject_type, subject_id, metric, period, reported_at);

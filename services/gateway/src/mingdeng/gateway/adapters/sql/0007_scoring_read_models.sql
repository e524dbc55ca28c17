-- Scoring publishes ranks in the quarter's selection (ranking order), not in each score; a
-- subject that leaves is a tombstone. Which events fed a value comes from the events' statuses.
ALTER TABLE gateway.scores ALTER COLUMN rank DROP NOT NULL;

ALTER TABLE gateway.event_status ADD COLUMN late_for text;
UPDATE gateway.event_status SET late_for = body->>'late_for' WHERE body->>'late_for' IS NOT NULL;
CREATE INDEX event_status_late ON gateway.event_status (late_for) WHERE late_for IS NOT NULL;

CREATE TABLE gateway.contributions (
    quarter    text NOT NULL,
    level      text NOT NULL CHECK (level IN ('member', 'department')),
    subject_id text NOT NULL,
    component  text NOT NULL,
    source     text NOT NULL,
    id         text NOT NULL,
    type       text,
    PRIMARY KEY (quarter, level, subject_id, component, source, id)
);
CREATE INDEX contributions_by_event ON gateway.contributions (source, id);

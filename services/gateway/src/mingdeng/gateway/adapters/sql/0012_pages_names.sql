-- What the pages say in words instead of ids (issue 22): households by 户主 and 村, and the
-- facts of the events that feed a member's index (when, and what: the event's data), joined to
-- gateway.contributions by (source, id). Filled by the read model `facts`; a rebuild fills
-- them for the history read before this migration.
CREATE TABLE gateway.households (
    household_id text PRIMARY KEY,
    village      text NOT NULL,
    head_name    text NOT NULL,
    stamp        timestamptz NOT NULL,
    stamp_source text NOT NULL,
    stamp_id     text NOT NULL
);

CREATE TABLE gateway.event_facts (
    source text NOT NULL,
    id     text NOT NULL,
    type   text NOT NULL,
    time   timestamptz NOT NULL,
    data   jsonb NOT NULL,
    PRIMARY KEY (source, id)
);

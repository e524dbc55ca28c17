-- The agency tree (issue 25): each agency as its newest `agency.registered` holds it (by stamp:
-- time, source, id), the 机关工委 it belongs to and the agency above it. The tree is the
-- platform's, not one agency's: the projector reads registrations of every agency.
CREATE TABLE gateway.agencies (
    agency_id        text PRIMARY KEY,
    name             text NOT NULL,
    committee_id     text NOT NULL,
    parent_agency_id text,
    stamp            timestamptz NOT NULL,
    stamp_source     text NOT NULL,
    stamp_id         text NOT NULL
);
CREATE INDEX agencies_by_committee ON gateway.agencies (committee_id, agency_id);

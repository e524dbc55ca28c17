-- Each agency's read models in a schema of its own (issue 25, ADR 0003). The default agency's
-- stay in `gateway`, where its history is: nothing is moved. Another agency's schema is made
-- by the gateway from the agency migrations (sql/agency/) when its first record arrives.
CREATE SCHEMA gateway_no_agency;  -- empty: a connection pointing at no agency reads nothing
COMMENT ON SCHEMA gateway_no_agency IS
    'Mingdeng: the search_path of a connection with no agency set; holds nothing on purpose';

CREATE TABLE gateway.agency_schemas (
    agency_id   text PRIMARY KEY,
    schema_name text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO gateway.agency_schemas (agency_id, schema_name) VALUES ('default', 'gateway');
-- the schema `gateway` has the agency's read models from migrations 0001-0020
INSERT INTO public.schema_migrations (component, version, name)
VALUES ('gateway/agency:gateway', 1, 'read_models');

-- Which agencies a phone number is registered in, for the login (a row per registration seen;
-- the agency's own `active_members` decides whether it still holds).
CREATE TABLE gateway.member_phones (
    phone     text NOT NULL,
    agency_id text NOT NULL,
    member_id text NOT NULL,
    PRIMARY KEY (phone, agency_id, member_id)
);
INSERT INTO gateway.member_phones (phone, agency_id, member_id)
SELECT phone, 'default', member_id FROM gateway.members WHERE phone IS NOT NULL;

-- 机关工委 admins: a phone number that may see every agency of its committee's tree
-- (`mingdeng-gateway committee-admin add`, docs/operations.md).
CREATE TABLE gateway.committee_admins (
    committee_id text NOT NULL,
    phone        text NOT NULL,
    name         text NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (committee_id, phone)
);

-- A login code is now the phone number's (a number may be registered in several agencies);
-- codes live five minutes, so the ones in flight are simply dropped.
DROP TABLE gateway.login_codes;
CREATE TABLE gateway.login_codes (
    phone_hash text PRIMARY KEY,
    code_hash  text NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL
);

-- The ingestion ledger says whose each event is: an event's status is told to its agency only.
ALTER TABLE gateway.accepted_events ADD COLUMN agency_id text NOT NULL DEFAULT 'default';

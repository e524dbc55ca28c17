-- A member's family address (喜报到家: where the leader carries the commendation) and date of
-- birth (the big screen's 党员 structure by age), both optional in member.registered.v1.
-- Rows projected before keep NULL until `mingdeng-gateway rebuild`.
ALTER TABLE gateway.members ADD COLUMN IF NOT EXISTS home_address text,
    ADD COLUMN IF NOT EXISTS born_on date;

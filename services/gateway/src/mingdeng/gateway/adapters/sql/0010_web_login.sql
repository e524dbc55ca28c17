-- The dashboard's SMS-code login (gateway/web/login.py). Codes are kept as HMAC-SHA256 digests
-- only, one live code per member; requests are kept an hour to limit them per number and per
-- address (the number kept as a digest too).
CREATE TABLE gateway.login_codes (
    member_id  text PRIMARY KEY,
    code_hash  text NOT NULL,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0
);

CREATE TABLE gateway.login_requests (
    phone_hash   text NOT NULL,
    address      text NOT NULL,
    requested_at timestamptz NOT NULL
);
CREATE INDEX login_requests_by_phone ON gateway.login_requests (phone_hash, requested_at);
CREATE INDEX login_requests_by_address ON gateway.login_requests (address, requested_at);

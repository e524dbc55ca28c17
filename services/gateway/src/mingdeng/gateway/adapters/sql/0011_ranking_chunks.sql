-- A quarter's ranking order comes in chunks on mingdeng.rankings.v1 (no message grows with the
-- organisation); each chunk is kept here, and the ranks of the scores follow from it.
CREATE TABLE gateway.ranking_chunks (
    quarter    text    NOT NULL,
    level      text    NOT NULL,
    chunk      integer NOT NULL,
    first_rank integer NOT NULL,
    ids        text[]  NOT NULL,
    status     text    NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (quarter, level, chunk)
);
-- the ranking was carried in the selection's body until now: it keeps how many it ranked (the
-- scores keep their ranks; scoring publishes every chunk again when it starts)
UPDATE gateway.selections SET body = (body - 'ranking') || jsonb_build_object('ranked', jsonb_build_object(
        'member', jsonb_array_length(body->'ranking'->'member'),
        'department', jsonb_array_length(body->'ranking'->'department'),
        'branch', jsonb_array_length(body->'ranking'->'branch')))
WHERE kind = 'quarter' AND body ? 'ranking';

-- Reads that stay fast at any size (issue 21).
--
-- A rank moves with every ranking (one member's new index shifts everyone between its old and
-- new place), an index only with its own subject's events. Ranks get a narrow table of their
-- own, the quarter's ranking as scoring published it in chunks (mingdeng.rankings.v1), each
-- row with the chunk that gave it: a move rewrites a narrow row, not the score's. The chunks
-- themselves are not kept any more (their ranks are). The scores' indexed columns (the key,
-- the department) then hardly ever change, so an update can stay on its page (HOT) in the room
-- fillfactor leaves there.
CREATE TABLE gateway.score_ranks (
    quarter text    NOT NULL,
    level   text    NOT NULL CHECK (level IN ('member', 'department', 'branch')),
    id      text    NOT NULL,
    rank    integer NOT NULL,
    chunk   integer NOT NULL,
    PRIMARY KEY (quarter, level, id)
) WITH (fillfactor = 70);
CREATE INDEX score_ranks_in_order ON gateway.score_ranks (quarter, level, rank, id);
CREATE INDEX score_ranks_by_chunk ON gateway.score_ranks (quarter, level, chunk, rank);
-- an id in two chunks (a ranking half read) takes its rank from the chunk written last, as
-- the projector would have
INSERT INTO gateway.score_ranks (quarter, level, id, rank, chunk)
SELECT DISTINCT ON (c.quarter, c.level, e.id)
       c.quarter, c.level, e.id, c.first_rank + e.n::integer - 1, c.chunk
FROM gateway.ranking_chunks c
CROSS JOIN LATERAL unnest(c.ids) WITH ORDINALITY AS e(id, n)
ORDER BY c.quarter, c.level, e.id, c.updated_at DESC, c.chunk DESC;
-- a rank no chunk gives (the ranking came with the selection before 0012, and scoring has not
-- published its chunks since) is kept until a chunk gives that id a rank: chunk -1 is none
INSERT INTO gateway.score_ranks (quarter, level, id, rank, chunk)
SELECT quarter, level, id, rank, -1 FROM gateway.scores WHERE rank IS NOT NULL
ON CONFLICT (quarter, level, id) DO NOTHING;
DROP TABLE gateway.ranking_chunks;

DROP INDEX gateway.scores_by_rank;
ALTER TABLE gateway.scores DROP COLUMN rank;
ALTER TABLE gateway.scores SET (fillfactor = 75);
CREATE INDEX scores_by_department ON gateway.scores (quarter, level, department_id);

-- Totals kept by the projector in the transaction that changes them, not counted per request:
-- the scores of each quarter, level and department ('' for departments and branches), and of
-- each ranking how many ids it has (its selection's `ranked`) and how many ids with a rank
-- have a score. When those two are equal, the ranks of the scores are 1 … ranked and a page
-- at any offset is a range of ranks.
CREATE TABLE gateway.score_totals (
    quarter       text NOT NULL,
    level         text NOT NULL,
    department_id text NOT NULL,
    scored        integer NOT NULL,
    PRIMARY KEY (quarter, level, department_id)
);
INSERT INTO gateway.score_totals (quarter, level, department_id, scored)
SELECT quarter, level, coalesce(department_id, ''), count(*)
FROM gateway.scores GROUP BY 1, 2, 3;

CREATE TABLE gateway.ranking_totals (
    quarter text NOT NULL,
    level   text NOT NULL,
    scored  integer NOT NULL,  -- scores of the quarter and level
    ranked  integer NOT NULL,  -- ids in its ranking, as its selection says
    matched integer NOT NULL,  -- ids with a rank that have a score
    PRIMARY KEY (quarter, level)
);
INSERT INTO gateway.ranking_totals (quarter, level, scored, ranked, matched)
SELECT coalesce(s.quarter, r.quarter, z.quarter), coalesce(s.level, r.level, z.level),
       coalesce(s.scored, 0), coalesce(z.ranked, 0), coalesce(r.matched, 0)
FROM (SELECT quarter, level, count(*) AS scored FROM gateway.scores GROUP BY 1, 2) AS s
FULL JOIN (
    SELECT k.quarter, k.level, count(*) AS matched
    FROM gateway.score_ranks k
    JOIN gateway.scores s ON (s.quarter, s.level, s.id) = (k.quarter, k.level, k.id)
    GROUP BY 1, 2
) AS r ON (r.quarter, r.level) = (s.quarter, s.level)
FULL JOIN (
    SELECT sel.key AS quarter, lv.level, (sel.body->'ranked'->>lv.level)::integer AS ranked
    FROM gateway.selections sel
    CROSS JOIN (VALUES ('member'), ('department'), ('branch')) AS lv(level)
    WHERE sel.kind = 'quarter' AND sel.body ? 'ranked'
) AS z ON (z.quarter, z.level) = (coalesce(s.quarter, r.quarter), coalesce(s.level, r.level));

-- Messages newest first, for everyone (the office): a page after a cursor is an index range.
CREATE INDEX notifications_newest ON gateway.notifications (updated_at DESC, key);

-- Reads that stay fast at any size (issue 21).
--
-- A rank moves with every selection (one member's new index shifts everyone between its old
-- and new place), an index only with its own subject's events. Ranks get a narrow table of
-- their own, the quarter's ranking as scoring published it: a move rewrites a 40-byte row, not
-- the score's. The scores' indexed columns (the key, the department) then hardly ever change,
-- so an update can stay on its page (HOT) in the room fillfactor leaves there.
CREATE TABLE gateway.score_ranks (
    quarter text NOT NULL,
    level   text NOT NULL CHECK (level IN ('member', 'department', 'branch')),
    id      text NOT NULL,
    rank    integer NOT NULL,
    PRIMARY KEY (quarter, level, id)
) WITH (fillfactor = 70);
CREATE INDEX score_ranks_in_order ON gateway.score_ranks (quarter, level, rank, id);
INSERT INTO gateway.score_ranks (quarter, level, id, rank)
SELECT sel.key, lv.level, e.id, e.rank
FROM gateway.selections sel
CROSS JOIN (VALUES ('member'), ('department'), ('branch')) AS lv(level)
CROSS JOIN LATERAL jsonb_array_elements_text(sel.body->'ranking'->lv.level)
    WITH ORDINALITY AS e(id, rank)
WHERE sel.kind = 'quarter';

DROP INDEX gateway.scores_by_rank;
ALTER TABLE gateway.scores DROP COLUMN rank;
ALTER TABLE gateway.scores SET (fillfactor = 75);
CREATE INDEX scores_by_department ON gateway.scores (quarter, level, department_id);

-- Totals kept by the projector in the transaction that changes them, not counted per request:
-- the scores of each quarter, level and department ('' for departments and branches), and of
-- each ranking how many ids it has and how many of those have a score. When every id of the
-- ranking has a score (always, once a batch's selection is read), the ranks of the scores are
-- 1 … ranked and a page at any offset is a range of ranks.
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
    ranked  integer NOT NULL,  -- ids in its ranking
    matched integer NOT NULL,  -- ids in its ranking that have a score
    PRIMARY KEY (quarter, level)
);
INSERT INTO gateway.ranking_totals (quarter, level, scored, ranked, matched)
SELECT coalesce(s.quarter, r.quarter), coalesce(s.level, r.level),
       coalesce(s.scored, 0), coalesce(r.ranked, 0), coalesce(r.matched, 0)
FROM (SELECT quarter, level, count(*) AS scored FROM gateway.scores GROUP BY 1, 2) AS s
FULL JOIN (
    SELECT k.quarter, k.level, count(*) AS ranked, count(s.id) AS matched
    FROM gateway.score_ranks k
    LEFT JOIN gateway.scores s ON (s.quarter, s.level, s.id) = (k.quarter, k.level, k.id)
    GROUP BY 1, 2
) AS r ON (r.quarter, r.level) = (s.quarter, s.level);

-- Messages newest first, for everyone (the office): a page after a cursor is an index range.
CREATE INDEX notifications_newest ON gateway.notifications (updated_at DESC, key);

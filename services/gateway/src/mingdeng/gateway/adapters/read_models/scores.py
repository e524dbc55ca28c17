"""The Vanguard and Fortress Index of every subject and quarter, and the totals.

Scoring publishes the last index of each key (a tombstone when the subject left the
standings); a score's rank is kept apart (`score_ranks`, from the ranking's chunks, see
`rankings`, written after this one in a batch): a rank moves with every ranking, a score only
with its subject's events. A score is written only when it changed. The totals (`score_totals`
per department, `ranking_totals` per quarter and level) move in the same transaction, so that
no page counts. Every change is told to the live stream (`SCORE_CHANNEL`, GET /v1/stream) when,
and only if, its transaction commits.
"""

from __future__ import annotations

from collections import Counter

import asyncpg
from pydantic_core import to_json

from mingdeng.contracts.derived import IndexScore
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.runtime.projection import Record

SCORE_CHANNEL = "mingdeng_scores:"  # and the agency's schema: `score_channel`


def score_channel(schema: str) -> str:
    """The live stream's channel of the agency whose read models are in `schema` (the SQL
    that notifies names it `SCORE_CHANNEL || current_schema()`)."""
    return SCORE_CHANNEL + schema


Ranking = tuple[str, str]  # quarter, level


class ScoreBatch(Batch):
    def __init__(self) -> None:
        self._scores: dict[str, IndexScore | None] = {}  # the last of each key; None: it left

    def add(self, record: Record) -> None:
        if record.value is not None:
            score = IndexScore.model_validate_json(record.value)
            self._scores[score.key] = score
        elif record.key:
            self._scores[record.key.decode()] = None

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        """Upsert the batch's scores in one statement, delete those that left; then the
        totals they moved."""
        if not self._scores:
            return set()
        totals = Totals()
        gone = [key.split("/", 2) for key, score in self._scores.items() if score is None]
        if gone:
            for row in await connection.fetch(
                """WITH gone AS (
                       DELETE FROM scores s
                       USING unnest($1::text[], $2::text[], $3::text[]) AS d(quarter, level, id)
                       WHERE (s.quarter, s.level, s.id) = (d.quarter, d.level, d.id)
                       RETURNING s.quarter, s.level, s.id, s.department_id)
                   SELECT g.quarter, g.level, g.department_id, k.rank IS NOT NULL AS ranked
                   FROM gone g LEFT JOIN score_ranks k
                       ON (k.quarter, k.level, k.id) = (g.quarter, g.level, g.id)""",
                *(list(column) for column in zip(*gone, strict=True)),
            ):
                totals.score(row["quarter"], row["level"], row["department_id"], -1)
                if row["ranked"]:
                    totals.matched[(row["quarter"], row["level"])] -= 1
        kept = [score for score in self._scores.values() if score is not None]
        if kept:
            await _upsert(connection, kept, totals)
        await totals.write(connection)
        return {"rankings"}


class Totals:
    """What a batch moved in the totals: scores per (quarter, level, department), and ids of a
    ranking that have a score (`matched`) per (quarter, level)."""

    def __init__(self) -> None:
        self.scored: Counter[tuple[str, str, str]] = Counter()
        self.matched: Counter[Ranking] = Counter()

    def score(self, quarter: str, level: str, department_id: str | None, delta: int) -> None:
        self.scored[(quarter, level, department_id or "")] += delta

    async def write(
        self, connection: asyncpg.Connection, lengths: dict[Ranking, int] | None = None
    ) -> None:
        """Add what moved; `lengths`: how many ids rankings hold, as their selections say."""
        scored = [(key, delta) for key, delta in self.scored.items() if delta]
        if scored:
            await connection.execute(
                """INSERT INTO score_totals AS t (quarter, level, department_id, scored)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[])
                   ON CONFLICT (quarter, level, department_id)
                   DO UPDATE SET scored = t.scored + EXCLUDED.scored""",
                *_columns([(*key, delta) for key, delta in scored]),
            )
        per_ranking: Counter[Ranking] = Counter()
        for (quarter, level, _), delta in scored:
            per_ranking[(quarter, level)] += delta
        lengths = lengths or {}
        moved = sorted(
            {k for k, v in per_ranking.items() if v}
            | {k for k, v in self.matched.items() if v}
            | set(lengths)
        )
        if moved:
            ranked = "EXCLUDED.ranked" if lengths else "t.ranked"
            await connection.execute(
                f"""INSERT INTO ranking_totals AS t (quarter, level, scored, ranked, matched)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[])
                    ON CONFLICT (quarter, level) DO UPDATE SET
                        scored = t.scored + EXCLUDED.scored, ranked = {ranked},
                        matched = t.matched + EXCLUDED.matched""",
                *_columns(
                    [
                        (
                            q,
                            lv,
                            per_ranking[(q, lv)],
                            lengths.get((q, lv), 0),
                            self.matched[(q, lv)],
                        )
                        for q, lv in moved
                    ]
                ),
            )


def _columns(rows: list[tuple[object, ...]]) -> list[list[object]]:
    return [list(column) for column in zip(*rows, strict=True)]


async def _upsert(connection: asyncpg.Connection, kept: list[IndexScore], totals: Totals) -> None:
    """Insert new scores, rewrite those whose body changed (an unchanged one is left alone:
    no dead row), and count what moved; a score's rank is its place in the quarter's ranking."""
    rows = await connection.fetch(
        """WITH given AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::float8[], $7::text[], $8::jsonb[])
                   AS g(quarter, level, id, department_id, branch_id, index_exact, status, body)),
           before AS (
               SELECT s.quarter, s.level, s.id, s.department_id
               FROM scores s JOIN given g USING (quarter, level, id)),
           written AS (
               INSERT INTO scores AS s
                   (quarter, level, id, department_id, branch_id, index_exact, status, body)
               SELECT * FROM given
               ON CONFLICT (quarter, level, id) DO UPDATE SET
                   department_id = EXCLUDED.department_id, branch_id = EXCLUDED.branch_id,
                   index_exact = EXCLUDED.index_exact,
                   status = EXCLUDED.status, body = EXCLUDED.body, updated_at = now()
               WHERE s.body IS DISTINCT FROM EXCLUDED.body)
           SELECT g.quarter, g.level, g.id, b.id IS NOT NULL AS known,
                  b.department_id AS department_before, k.rank
           FROM given g
           LEFT JOIN before b USING (quarter, level, id)
           LEFT JOIN score_ranks k USING (quarter, level, id)""",
        [s.quarter for s in kept],
        [s.level for s in kept],
        [s.id for s in kept],
        [s.department_id for s in kept],
        [s.branch_id for s in kept],
        [s.index_exact for s in kept],
        [s.status for s in kept],
        [s.model_dump_json() for s in kept],
    )
    ranks: dict[tuple[str, str, str], int | None] = {}
    by_key = {(s.quarter, s.level, s.id): s for s in kept}
    for row in rows:
        key = (row["quarter"], row["level"], row["id"])
        ranks[key] = row["rank"]
        score = by_key[key]
        if not row["known"]:
            totals.score(score.quarter, score.level, score.department_id, 1)
            if row["rank"] is not None:
                totals.matched[(score.quarter, score.level)] += 1
        elif row["department_before"] != score.department_id:
            totals.score(score.quarter, score.level, row["department_before"], -1)
            totals.score(score.quarter, score.level, score.department_id, 1)
    changes = [
        to_json(
            {
                "quarter": s.quarter,
                "level": s.level,
                "id": s.id,
                "name": s.name,
                "department_id": s.department_id,
                "branch_id": s.branch_id,
                "rank": ranks.get((s.quarter, s.level, s.id)),
                "index": s.index,
                "status": s.status,
            }
        ).decode()
        for s in kept
    ]
    await connection.execute(
        "SELECT pg_notify($1 || current_schema(), change) FROM unnest($2::text[]) AS change",
        SCORE_CHANNEL,
        changes,
    )


READ_MODEL = ReadModel(tables=("scores", "score_totals", "ranking_totals"), batch=ScoreBatch)

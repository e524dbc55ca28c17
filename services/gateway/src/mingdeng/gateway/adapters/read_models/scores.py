"""The Vanguard and Fortress Index of every subject and quarter, and its rank.

Scoring publishes the last index of each key (a tombstone when the subject left the
standings); the rank is the subject's place in its quarter's ranking, which comes in chunks
(`rankings`, written after this one in a batch). Every change is told to
the live stream (`SCORE_CHANNEL`, GET /v1/stream) when, and only if, its transaction commits.
"""

from __future__ import annotations

import asyncpg
from pydantic_core import to_json

from mingdeng.contracts.derived import IndexScore, RankingChunk
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.runtime.projection import Record

SCORE_CHANNEL = "mingdeng_scores"


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
        """Upsert the batch's scores in one statement, delete those that left; a subject new to
        a quarter whose ranking is already projected takes its rank from it."""
        if not self._scores:
            return set()
        gone = [key.split("/", 2) for key, score in self._scores.items() if score is None]
        if gone:
            await connection.execute(
                """DELETE FROM gateway.scores s USING unnest($1::text[], $2::text[], $3::text[])
                       AS d(quarter, level, id)
                   WHERE (s.quarter, s.level, s.id) = (d.quarter, d.level, d.id)""",
                *(list(column) for column in zip(*gone, strict=True)),
            )
        kept = [score for score in self._scores.values() if score is not None]
        if kept:
            await _upsert(connection, kept)
        return {"rankings"}


async def _upsert(connection: asyncpg.Connection, kept: list[IndexScore]) -> None:
    rows = await connection.fetch(
        """INSERT INTO gateway.scores
               (quarter, level, id, department_id, branch_id, index_exact, status, body)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::float8[], $7::text[], $8::jsonb[])
           ON CONFLICT (quarter, level, id) DO UPDATE SET
               department_id = EXCLUDED.department_id, branch_id = EXCLUDED.branch_id,
               index_exact = EXCLUDED.index_exact,
               status = EXCLUDED.status, body = EXCLUDED.body, updated_at = now()
           RETURNING quarter, level, id, rank""",
        [s.quarter for s in kept],
        [s.level for s in kept],
        [s.id for s in kept],
        [s.department_id for s in kept],
        [s.branch_id for s in kept],
        [s.index_exact for s in kept],
        [s.status for s in kept],
        [s.model_dump_json() for s in kept],
    )
    ranks = {(r["quarter"], r["level"], r["id"]): r["rank"] for r in rows}
    unranked = sorted({quarter for (quarter, _, _), rank in ranks.items() if rank is None})
    if unranked:
        for row in await connection.fetch(
            """UPDATE gateway.scores s SET rank = r.rank
               FROM (SELECT c.quarter, c.level, e.id, c.first_rank + e.n::integer - 1 AS rank
                     FROM gateway.ranking_chunks c
                     CROSS JOIN LATERAL unnest(c.ids) WITH ORDINALITY AS e(id, n)
                     WHERE c.quarter = ANY($1::text[])) AS r
               WHERE s.rank IS NULL
                 AND (s.quarter, s.level, s.id) = (r.quarter, r.level, r.id)
               RETURNING s.quarter, s.level, s.id, s.rank""",
            unranked,
        ):
            ranks[(row["quarter"], row["level"], row["id"])] = row["rank"]
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
        "SELECT pg_notify($1, change) FROM unnest($2::text[]) AS change", SCORE_CHANNEL, changes
    )


async def rank(connection: asyncpg.Connection, chunk: RankingChunk) -> None:
    """Ranks from a chunk of the quarter's ranking order, written only where they moved; each
    move is an index change for the stream too."""
    await connection.execute(
        """WITH moved AS (
               UPDATE gateway.scores s SET rank = r.rank
               FROM (SELECT id, $5::integer + n::integer - 1 AS rank
                     FROM unnest($3::text[]) WITH ORDINALITY AS e(id, n)) AS r
               WHERE s.quarter = $1 AND s.level = $2 AND s.id = r.id
                 AND s.rank IS DISTINCT FROM r.rank
               RETURNING s.quarter, s.level, s.id, s.department_id, s.branch_id, s.rank,
                         s.status, s.body)
           SELECT pg_notify($4, json_build_object(
               'quarter', quarter, 'level', level, 'id', id, 'name', body->>'name',
               'department_id', department_id, 'branch_id', branch_id, 'rank', rank,
               'index', (body->>'index')::float8, 'status', status)::text)
           FROM moved""",
        chunk.quarter,
        chunk.level,
        chunk.ids,
        SCORE_CHANNEL,
        chunk.first_rank,
    )


READ_MODEL = ReadModel(tables=("scores",), batch=ScoreBatch)

"""A quarter's ranking order, chunk by chunk, kept as the ranks of its ids (`score_ranks`): a
chunk gives ranks `first_rank`, `first_rank + 1`, … to its ids, and each row remembers the
chunk that gave it, so that an id leaving a chunk (and no other chunk read since) loses its
rank, and a chunk's tombstone takes its ranks away. Only ranks that moved, entered or left are
written; each move of a score's rank is an index change for the live stream too, and the count
of ranked ids with a score (`ranking_totals.matched`) moves in the same transaction. A chunk
beyond what the quarter's selection says the ranking holds is stale: its ranks are removed
with the selection (`forget_stale_chunks`, called by `selections`). A score that arrives
later than its rank simply finds it (see `scores`)."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts.derived import QuarterSelection, RankingChunk
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.gateway.adapters.read_models.scores import SCORE_CHANNEL, Ranking, Totals
from mingdeng.runtime.projection import Record

# $1 quarter, $2 level, $3 chunk, $4 its first rank, $5 its ids in order, $6 the channel
RANK = """
    WITH given AS (
        SELECT g.id, $4::integer + g.n::integer - 1 AS rank
        FROM unnest($5::text[]) WITH ORDINALITY AS g(id, n)),
    before AS (
        SELECT k.id, k.rank FROM score_ranks k
        WHERE k.quarter = $1 AND k.level = $2 AND k.id = ANY($5::text[])),
    written AS (
        INSERT INTO score_ranks AS k (quarter, level, id, rank, chunk)
        SELECT $1, $2, g.id, g.rank, $3 FROM given g
        ON CONFLICT (quarter, level, id) DO UPDATE SET rank = EXCLUDED.rank, chunk = EXCLUDED.chunk
        WHERE k.rank <> EXCLUDED.rank OR k.chunk <> EXCLUDED.chunk
        RETURNING k.id, k.rank),
    gone AS (
        DELETE FROM score_ranks k
        WHERE k.quarter = $1 AND k.level = $2 AND k.chunk = $3
          AND NOT EXISTS (SELECT FROM given g WHERE g.id = k.id)
        RETURNING k.id),
    told AS (
        SELECT pg_notify($6 || current_schema(), json_build_object(
            'quarter', s.quarter, 'level', s.level, 'id', s.id,
            'name', s.body->>'name', 'department_id', s.department_id,
            'branch_id', s.branch_id, 'rank', w.rank,
            'index', (s.body->>'index')::float8, 'status', s.status)::text)
        FROM written w
        LEFT JOIN before b ON b.id = w.id
        JOIN scores s ON (s.quarter, s.level, s.id) = ($1, $2, w.id)
        WHERE b.rank IS DISTINCT FROM w.rank)
    SELECT (SELECT count(*) FROM told) AS told,
           (SELECT count(*) FROM written w JOIN scores s
               ON (s.quarter, s.level, s.id) = ($1, $2, w.id)
            WHERE NOT EXISTS (SELECT FROM before b WHERE b.id = w.id)) AS entered,
           (SELECT count(*) FROM gone g JOIN scores s
               ON (s.quarter, s.level, s.id) = ($1, $2, g.id)) AS gone"""

# $1 quarter, $2 level, $3 the chunks: the ranks they gave, and how many of those had a score
FORGET = """
    WITH gone AS (
        DELETE FROM score_ranks k
        WHERE k.quarter = $1 AND k.level = $2 AND k.chunk = ANY($3::integer[])
        RETURNING k.id)
    SELECT count(*) FROM gone g JOIN scores s ON (s.quarter, s.level, s.id) = ($1, $2, g.id)"""

# $1 quarter, $2 level, $3 how many its ranking holds: the chunks that start beyond that
STALE = """
    SELECT DISTINCT k.chunk FROM score_ranks k
    WHERE k.quarter = $1 AND k.level = $2 AND k.rank > $3
      AND NOT EXISTS (SELECT FROM score_ranks o
                      WHERE o.quarter = $1 AND o.level = $2 AND o.chunk = k.chunk
                        AND o.rank <= $3)"""


class RankingBatch(Batch):
    def __init__(self) -> None:
        self._chunks: dict[str, RankingChunk | None] = {}  # the last of each key; None: gone

    def add(self, record: Record) -> None:
        if record.value is not None:
            chunk = RankingChunk.model_validate_json(record.value)
            self._chunks[chunk.key] = chunk
        elif record.key:
            self._chunks[record.key.decode()] = None

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        totals = Totals()
        for key, chunk in self._chunks.items():
            if chunk is None:
                quarter, level, number = key.rsplit("/", 2)
                gone = await connection.fetchval(FORGET, quarter, level, [int(number)])
                totals.matched[(quarter, level)] -= gone
                continue
            row = await connection.fetchrow(
                RANK, chunk.quarter, chunk.level, chunk.chunk, chunk.first_rank, chunk.ids,
                SCORE_CHANNEL,
            )  # fmt: skip
            totals.matched[(chunk.quarter, chunk.level)] += row["entered"] - row["gone"]
        await totals.write(connection)
        return {"rankings"} if self._chunks else set()


async def forget_stale_chunks(connection: asyncpg.Connection, selection: QuarterSelection) -> None:
    """The ranks of chunks past the end of the quarter's ranking (it shrank, and scoring
    restarted before it could send their tombstones) are removed; the ranking's size is the
    selection's."""
    totals = Totals()
    sizes: dict[Ranking, int] = {}
    for level, ranked in selection.ranked.model_dump().items():
        sizes[(selection.quarter, level)] = ranked
        stale = [
            row["chunk"] for row in await connection.fetch(STALE, selection.quarter, level, ranked)
        ]
        if stale:
            gone = await connection.fetchval(FORGET, selection.quarter, level, stale)
            totals.matched[(selection.quarter, level)] -= gone
    await totals.write(connection, sizes)


READ_MODEL = ReadModel(tables=("score_ranks",), batch=RankingBatch)

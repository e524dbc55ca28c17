"""A quarter's ranking order, chunk by chunk: each chunk kept, and the ranks of its subjects'
scores set from it (a score that arrives later takes its rank from the chunks kept, see
`scores`). A chunk beyond what the quarter's selection says the ranking holds is stale and
deleted with the selection (`selections`)."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts.derived import RankingChunk
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models import scores
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.runtime.projection import Record


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
        for key, chunk in self._chunks.items():
            if chunk is None:
                quarter, level, number = key.rsplit("/", 2)
                await connection.execute(
                    """DELETE FROM gateway.ranking_chunks
                       WHERE quarter = $1 AND level = $2 AND chunk = $3""",
                    quarter,
                    level,
                    int(number),
                )
                continue
            await connection.execute(
                """INSERT INTO gateway.ranking_chunks
                       (quarter, level, chunk, first_rank, ids, status)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (quarter, level, chunk) DO UPDATE SET
                       first_rank = EXCLUDED.first_rank, ids = EXCLUDED.ids,
                       status = EXCLUDED.status, updated_at = now()""",
                chunk.quarter,
                chunk.level,
                chunk.chunk,
                chunk.first_rank,
                chunk.ids,
                chunk.status,
            )
            await scores.rank(connection, chunk)
        return {"rankings"} if self._chunks else set()


READ_MODEL = ReadModel(tables=("ranking_chunks",), batch=RankingBatch)

"""Provisional and final selections of a quarter (exemplars, excellent departments, how many
its ranking holds) or a year (the top ten)."""

from __future__ import annotations

import asyncpg
from pydantic import TypeAdapter

from mingdeng.contracts.derived import QuarterSelection, Selection
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.runtime.projection import Record

SELECTION: TypeAdapter[Selection] = TypeAdapter(Selection)


class SelectionBatch(Batch):
    def __init__(self) -> None:
        self._selections: dict[str, Selection] = {}  # the last of each key

    def add(self, record: Record) -> None:
        if record.value is not None:
            selection = SELECTION.validate_json(record.value)
            self._selections[selection.key] = selection

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        for selection in self._selections.values():
            await connection.execute(
                """INSERT INTO gateway.selections (key, kind, status, body) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status,
                       body = EXCLUDED.body, updated_at = now()""",
                selection.key,
                selection.kind,
                selection.status,
                selection.model_dump_json(),
            )
            if isinstance(selection, QuarterSelection):
                await _forget_stale_chunks(connection, selection)
        return {"rankings"} if self._selections else set()


async def _forget_stale_chunks(connection: asyncpg.Connection, selection: QuarterSelection) -> None:
    """Chunks past the end of the quarter's ranking (it shrank, and scoring restarted before it
    could send their tombstones) rank nobody."""
    await connection.execute(
        """DELETE FROM gateway.ranking_chunks c
           USING (VALUES ('member', $2::integer), ('department', $3::integer),
                         ('branch', $4::integer)) AS sizes(level, ranked)
           WHERE c.quarter = $1 AND c.level = sizes.level AND c.first_rank > sizes.ranked""",
        selection.quarter,
        selection.ranked.member,
        selection.ranked.department,
        selection.ranked.branch,
    )


READ_MODEL = ReadModel(tables=("selections",), batch=SelectionBatch)

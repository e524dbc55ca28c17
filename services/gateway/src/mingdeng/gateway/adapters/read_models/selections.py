"""Provisional and final selections of a quarter (exemplars, excellent departments, how many
its ranking holds: the ranks beyond are stale, see `rankings`) or a year (the top ten)."""

from __future__ import annotations

import asyncpg
from pydantic import TypeAdapter

from mingdeng.contracts.derived import QuarterSelection, Selection
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models import rankings
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
                """INSERT INTO selections (key, kind, status, body) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status,
                       body = EXCLUDED.body, updated_at = now()""",
                selection.key,
                selection.kind,
                selection.status,
                selection.model_dump_json(),
            )
            if isinstance(selection, QuarterSelection):
                await rankings.forget_stale_chunks(connection, selection)
        return {"rankings"} if self._selections else set()


READ_MODEL = ReadModel(tables=("selections",), batch=SelectionBatch)

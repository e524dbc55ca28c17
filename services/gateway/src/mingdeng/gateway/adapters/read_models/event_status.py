"""What became of each inbound event (applied, rejected, late; for read-your-writes and the
late list), and which components of which indices it fed (what explains a value)."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts.derived import EventStatus
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import Batch, ReadModel
from mingdeng.runtime.projection import Record


class StatusBatch(Batch):
    def __init__(self) -> None:
        self._statuses: dict[tuple[str, str], EventStatus] = {}  # the last of each event

    def add(self, record: Record) -> None:
        if record.value is not None:
            status = EventStatus.model_validate_json(record.value)
            self._statuses[(status.source, status.id)] = status

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        """The batch's statuses and what each event feeds, a statement per table."""
        statuses = list(self._statuses.values())
        if not statuses:
            return set()
        await connection.execute(
            """INSERT INTO event_status (source, id, status, late_for, body)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
               ON CONFLICT (source, id) DO UPDATE SET status = EXCLUDED.status,
                   late_for = EXCLUDED.late_for, body = EXCLUDED.body, updated_at = now()""",
            [s.source for s in statuses],
            [s.id for s in statuses],
            [s.status for s in statuses],
            [s.late_for for s in statuses],
            [s.model_dump_json() for s in statuses],
        )
        fed = [
            (c.quarter, c.level, c.id, c.component, s.source, s.id, s.type)
            for s in statuses
            for c in s.counts_for
        ]
        if fed:
            await connection.execute(
                """INSERT INTO contributions
                       (quarter, level, subject_id, component, source, id, type)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                        $5::text[], $6::text[], $7::text[])
                   ON CONFLICT DO NOTHING""",
                *(list(column) for column in zip(*fed, strict=True)),
            )
        replaced = [(r.source, r.id, s.source, s.id) for s in statuses for r in s.supersedes]
        if replaced:  # a correction takes the place of what it supersedes, component by component
            await connection.executemany(
                """DELETE FROM contributions o
                   USING contributions n
                   WHERE o.source = $1 AND o.id = $2 AND n.source = $3 AND n.id = $4
                     AND (o.quarter, o.level, o.subject_id, o.component)
                       = (n.quarter, n.level, n.subject_id, n.component)""",
                replaced,
            )
        return {"rankings"}  # what each index is explained by


READ_MODEL = ReadModel(tables=("event_status", "contributions"), batch=StatusBatch)

"""Every KPI report (the first of each source and id stays); the API shows the latest of each
subject, metric and period with the history."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel


class KpiBatch(EventBatch):
    def __init__(self) -> None:
        self.reports: list[tuple[object, ...]] = []

    def reported(self, event: Event[ev.KpiReported]) -> None:
        data = event.data
        self.reports.append(
            (
                event.source,
                event.id,
                data.subject_type,
                data.subject_id,
                data.metric,
                data.period,
                data.value,
                data.unit,
                event.time,
            )
        )

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self.reports:  # one statement for the batch
            await connection.execute(
                """INSERT INTO kpis
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                        $5::text[], $6::text[], $7::float8[], $8::text[],
                                        $9::timestamptz[])
                   ON CONFLICT DO NOTHING""",
                *map(list, zip(*self.reports, strict=True)),
            )
        return set()


READ_MODEL = EventReadModel(
    tables=("kpis",),
    batch=KpiBatch,
    reads={ev.KpiReported: KpiBatch.reported},
)

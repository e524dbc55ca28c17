"""The agency tree (issue 25): every agency's newest registration (the stamp rule of the
registry), in the platform's schema whatever agency the event is of: the 机关工委's commands
and pages read the whole tree (docs/operations.md, "Agencies")."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel
from mingdeng.gateway.adapters.read_models.registry import later_stamp

AGENCY = f"""
    INSERT INTO gateway.agencies
        (agency_id, name, committee_id, parent_agency_id, stamp, stamp_source, stamp_id)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (agency_id) DO UPDATE SET name = EXCLUDED.name,
        committee_id = EXCLUDED.committee_id, parent_agency_id = EXCLUDED.parent_agency_id,
        stamp = EXCLUDED.stamp, stamp_source = EXCLUDED.stamp_source, stamp_id = EXCLUDED.stamp_id
    WHERE {later_stamp("gateway.agencies", "stamp", "stamp_source", "stamp_id")}"""


class AgencyBatch(EventBatch):
    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []

    def registered(self, event: Event[ev.AgencyRegistered]) -> None:
        data = event.data
        self.rows.append(
            (
                data.agency_id,
                data.name,
                data.committee_id,
                data.parent_agency_id,
                event.time,
                event.source,
                event.id,
            )
        )

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self.rows:  # the upserts commute: one pipelined statement
            await connection.executemany(AGENCY, self.rows)
        return set()


READ_MODEL = EventReadModel(
    tables=("agencies",),
    batch=AgencyBatch,
    reads={ev.AgencyRegistered: AgencyBatch.registered},
)

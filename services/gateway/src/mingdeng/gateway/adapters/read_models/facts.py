"""What the pages say in words instead of ids (issue 22): households by 户主 and 村 (newest
registration by stamp, as the registry orders it), and the facts of every event that can feed
a member's index: when it happened and its data, kept once per (source, id) as events are
immutable. The API joins them to the contributions (`repository.contributions`); who may see a
violation's facts is decided there, as for the contribution itself."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.registry import Stamp
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel
from mingdeng.gateway.adapters.read_models.registry import later_stamp

HOUSEHOLD = f"""
    INSERT INTO households
        (household_id, village, head_name, stamp, stamp_source, stamp_id)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (household_id) DO UPDATE SET village = EXCLUDED.village,
        head_name = EXCLUDED.head_name, stamp = EXCLUDED.stamp,
        stamp_source = EXCLUDED.stamp_source, stamp_id = EXCLUDED.stamp_id
    WHERE {later_stamp("households", "stamp", "stamp_source", "stamp_id")}"""
FACT = """
    INSERT INTO event_facts (source, id, type, time, data)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
    ON CONFLICT DO NOTHING"""


class FactBatch(EventBatch):
    def __init__(self) -> None:
        self.households: list[tuple[object, ...]] = []
        self.facts: dict[tuple[str, str], tuple[str, object, str]] = {}

    def household(self, event: Event[ev.HouseholdRegistered]) -> None:
        data = event.data
        self.households.append((data.household_id, data.village, data.head_name,
                                *Stamp.of(event)))  # fmt: skip

    def fact(self, event: Event[ev.EventData]) -> None:
        self.facts.setdefault(
            (event.source, event.id),
            (event.data.event_type, event.time, event.data.model_dump_json()),
        )

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self.households:
            await connection.executemany(HOUSEHOLD, self.households)
        if not self.facts:
            return set()
        keys, rows = list(self.facts), list(self.facts.values())
        await connection.execute(
            FACT,
            [source for source, _ in keys],
            [event_id for _, event_id in keys],
            *map(list, zip(*rows, strict=True)),
        )
        return {"rankings"}  # a member's explained index shows them


READ_MODEL = EventReadModel(
    tables=("households", "event_facts"),
    batch=FactBatch,
    reads={
        ev.HouseholdRegistered: FactBatch.household,
        ev.LectureAttended: FactBatch.fact,
        ev.LectureDelivered: FactBatch.fact,
        ev.VisitMade: FactBatch.fact,
        ev.VolunteerLogged: FactBatch.fact,
        ev.ViolationLogged: FactBatch.fact,
        ev.ViolationRetracted: FactBatch.fact,
        ev.TalkHeld: FactBatch.fact,
        ev.KpiReported: FactBatch.fact,
        ev.SuggestionAdopted: FactBatch.fact,
        ev.MaximApproved: FactBatch.fact,
    },
)

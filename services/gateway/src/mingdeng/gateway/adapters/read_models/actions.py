"""What people did on the pages: every event published from `/dashboard` (web/actions.py), with
who did it (the extensions `actor` and `actorrole`), when and its data, once per id. The pages
of each action's history read it (GET /v1/actions)."""

from __future__ import annotations

import asyncpg

from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import PAYLOAD_TYPES, EventData
from mingdeng.contracts.upcasting import is_latest
from mingdeng.gateway.adapters.read_cache import Kind
from mingdeng.gateway.adapters.read_models.base import EventBatch, EventReadModel

DASHBOARD = "/dashboard"
ACTION = """
    INSERT INTO dashboard_actions (id, type, subject, time, actor, actorrole, data)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                         $6::text[], $7::jsonb[])
    ON CONFLICT DO NOTHING"""


class ActionBatch(EventBatch):
    def __init__(self) -> None:
        self.actions: dict[str, tuple[object, ...]] = {}

    def action(self, event: Event[EventData]) -> None:
        if event.source != DASHBOARD:
            return
        self.actions.setdefault(
            event.id,
            (
                event.id,
                event.data.event_type,
                event.subject,
                event.time,
                str(event.extensions.get("actor", "")),
                str(event.extensions.get("actorrole", "")),
                event.data.model_dump_json(),
            ),
        )

    async def write(self, connection: asyncpg.Connection) -> set[Kind]:
        if self.actions:
            await connection.execute(ACTION, *map(list, zip(*self.actions.values(), strict=True)))
        return set()


READ_MODEL = EventReadModel(
    tables=("dashboard_actions",),
    batch=ActionBatch,
    reads={kind: ActionBatch.action for kind in PAYLOAD_TYPES if is_latest(kind)},
)

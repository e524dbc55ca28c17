"""The outreach service: events into its store and state; read models and reminders out.

No Kafka here: `refresh` returns what to publish, and `send_reminders` takes a `send` function.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from mingdeng.contracts.codec import parse_record
from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.outreach_views import OutreachView, ViewBody, ViewName
from mingdeng.contracts.periods import Quarter
from mingdeng.outreach.adapters import store
from mingdeng.outreach.domain import views
from mingdeng.outreach.domain.state import READS, REMIND_EVERY, OutreachState
from mingdeng.runtime import event_store
from mingdeng.runtime.projection import Record

log = logging.getLogger(__name__)

EVENT_TABLE = "outreach.events"


class OutreachService:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.state = OutreachState()
        self.changed = True
        self._published: dict[str, str] = {}

    async def reload(self, connection: asyncpg.Connection) -> None:
        """Fold the state again from what was committed (after a transaction rolled back)."""
        self.state = OutreachState()
        await self.load(connection)

    async def load(self, connection: asyncpg.Connection) -> None:
        for event in await event_store.load(connection, EVENT_TABLE):
            self.state.apply(event)
        self.changed = True

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        """ProjectionRunner handler: keep what outreach reads, in the runner's transaction."""
        taken = []
        for record in records:
            try:
                event = parse_record(record.value, record.headers, record.key)
            except InvalidEvent:
                continue  # scoring dead-letters invalid inbound events, with their reasons
            if type(event.data) in READS:
                taken.append(event)
        for event in await event_store.keep(connection, EVENT_TABLE, taken):
            self.state.apply(event)
            self.changed = True

    def refresh(self) -> list[OutreachView]:
        """Every read model whose content changed since the last refresh."""
        now = self.clock()
        state, found = self.state, []

        def add(view: ViewName, key: str, body: ViewBody, member_id: str | None = None) -> None:
            found.append(
                OutreachView(view=view, key=key, member_id=member_id, body=body, computed_at=now)
            )

        for period in views.active_periods(state, now):
            add("coverage", f"coverage/{period.name}", views.coverage(state, period, now))
            add("talks", f"talks/{period.name}", views.talks(state, period))
            add("community", f"community/{period.name}", views.community(state, period))
            if "Q" in period.name:
                add(
                    "liaison",
                    f"liaison/{period.name}",
                    views.liaison(state, Quarter.parse(period.name), now),
                )
        add("overdue", "overdue", views.overdue(state, now))
        add("reassignment", "reassignment", views.reassignment(state, now))
        add("suggestions", "suggestions", views.suggestions(state))
        for member_id in sorted({m for (_, m) in state.pairing_changes}):
            add(
                "households",
                f"households/{member_id}",
                views.member_households(state, member_id, now),
                member_id,
            )
        changed = []
        for view in found:
            content = view.body_json()
            if self._published.get(view.key) != content:
                self._published[view.key] = content
                changed.append(view)
        self.changed = False
        return changed

    async def send_reminders(
        self, pool: asyncpg.Pool, send: Callable[[ReminderRequest], Awaitable[None]]
    ) -> int:
        """Ask the notifier to remind members of overdue visits, at most once per 14 days per
        pairing: the claim and the send share a transaction, so a failed send claims nothing."""
        now = self.clock()
        async with pool.acquire() as connection:
            reminded = await store.last_reminded(connection)
        due = views.reminders_due(views.overdue(self.state, now), reminded, now)
        sent = 0
        for item in due:
            async with pool.acquire() as connection, connection.transaction():
                if not await store.claim_reminder(
                    connection, item.household_id, item.member_id, now, REMIND_EVERY
                ):
                    continue
                await send(
                    ReminderRequest(
                        rule="household_visit_overdue",
                        recipient_id=item.member_id,
                        cause=f"{item.household_id}@{now.date().isoformat()}",
                        details=item.model_dump(mode="json"),
                        requested_at=now,
                    )
                )
                sent += 1
        if sent:
            log.info("asked for %d overdue-visit reminders", sent)
        return sent

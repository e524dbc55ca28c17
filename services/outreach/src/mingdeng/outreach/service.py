"""The outreach service: events into its store and views; read models and reminders out.

No Kafka here: `refresh` returns what to publish, and `send_reminders` takes a `send` function.
Nothing here holds the event loop for long (docs/outreach.md, "Work on the event loop"): rows
are computed `STEP` at a time and each view is assembled in a step of its own.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import asyncpg

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import parse_record
from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.topics import EVENTS
from mingdeng.outreach.adapters import store
from mingdeng.outreach.domain.state import READS, REMIND_EVERY
from mingdeng.outreach.domain.views import OutreachViews, Publication
from mingdeng.runtime import event_store
from mingdeng.runtime.agencies import OtherAgencies
from mingdeng.runtime.projection import Record

log = logging.getLogger(__name__)

EVENT_TABLE = "outreach.events"
STEP = 2000  # rows computed between two turns of the event loop (a few ms each)
APPLY_STEP = 100  # events of a batch folded in one step (a few ms)
LOAD_CHUNK = 2000  # stored events folded in one step (about 40 ms at start)
LINE_STEP = 1000  # lines assembled in one step
LINES_PER_REFRESH = 20_000  # lines published in one refresh; the rest in the next ones


class OutreachService:
    """`agency`: the one agency outreach serves. Until outreach is scoped by agency (issue 25,
    item 3), the events of any other agency are skipped and counted in `other_agencies`
    (docs/outreach.md, "Agencies")."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        agency: str = DEFAULT_AGENCY,
        inbound: str = EVENTS.name,
    ) -> None:
        self.clock = clock
        self.other_agencies = OtherAgencies(agency, inbound, "MINGDENG_OUTREACH_AGENCY")
        self.views = OutreachViews(clock())
        self._published: dict[str, bytes] = {}  # key -> digest of the view published last

    async def reload(self, connection: asyncpg.Connection) -> None:
        """Fold the views again from what was committed (after a transaction rolled back)."""
        fresh = OutreachViews(self.clock())
        await self._fold_stored(fresh, connection)
        self.views = fresh

    async def load(self, connection: asyncpg.Connection) -> None:
        await self._fold_stored(self.views, connection)

    async def _fold_stored(self, views: OutreachViews, connection: asyncpg.Connection) -> None:
        async for events in store.events_in_order(connection, EVENT_TABLE, LOAD_CHUNK):
            for event in events:
                views.apply(event)
            await asyncio.sleep(0)
        # The folded history stays for the life of the process: out of the collector's sight,
        # its full collections walk only what came after (otherwise a pause that grows with
        # the history).
        gc.collect()
        gc.freeze()

    async def handle(self, connection: asyncpg.Connection, records: Sequence[Record]) -> None:
        """ProjectionRunner handler: keep what outreach reads, in the runner's transaction."""
        taken = []
        for record in records:
            if self.other_agencies.skips(record):
                continue
            try:
                event = parse_record(record.value, record.headers, record.key)
            except InvalidEvent:
                continue  # scoring dead-letters invalid inbound events, with their reasons
            if type(event.data) in READS:
                taken.append(event)
        for count, event in enumerate(await event_store.keep(connection, EVENT_TABLE, taken), 1):
            self.views.apply(event)
            if count % APPLY_STEP == 0:
                await asyncio.sleep(0)  # a turn of the event loop between two steps

    async def _settle(self, views: OutreachViews, now: datetime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if views.settle(now, STEP):
                return
            await asyncio.sleep(0)  # a turn of the event loop between two steps

    async def refresh(
        self, *, stamp_running: bool = False, stop: asyncio.Event | None = None
    ) -> list[Publication]:
        """The views whose content changed since they were published last, and at most
        `LINES_PER_REFRESH` changed lines (`lines_left` says how many wait for the next call).
        `stamp_running`: also the running periods' coverage, whose `as_of` is now. Asked to
        `stop`, it ends between two steps (a new process computes every view again)."""
        stop = stop or asyncio.Event()
        now = self.clock()
        views = self.views
        if stamp_running:
            views.touch_running(now)
        await self._settle(views, now, stop)
        changed: list[Publication] = []
        for ref in views.take_views():
            await self._settle(views, now, stop)  # what the consumer took meanwhile
            if stop.is_set():
                return changed
            publication = views.publication(ref, now)
            digest = hashlib.blake2b(publication.body, digest_size=16).digest()
            if self._published.get(publication.key) != digest:
                self._published[publication.key] = digest
                changed.append(publication)
            await asyncio.sleep(0)
        for _ in range(0, LINES_PER_REFRESH, LINE_STEP):  # lines change only with their row
            changed += [views.publication(ref, now) for ref in views.take_lines(LINE_STEP)]
            await asyncio.sleep(0)
        if not views.lines_left:
            views.first_round = False
        return changed

    async def send_reminders(
        self, pool: asyncpg.Pool, send: Callable[[ReminderRequest], Awaitable[None]]
    ) -> int:
        """Ask the notifier to remind members of overdue visits, at most once per 14 days per
        pairing: the claim and the send share a transaction, so a failed send claims nothing."""
        now = self.clock()
        views = self.views
        await self._settle(views, now, asyncio.Event())
        async with pool.acquire() as connection:
            reminded = await store.last_reminded(connection)
        sent = 0
        for item in views.reminders_due(reminded, now):
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

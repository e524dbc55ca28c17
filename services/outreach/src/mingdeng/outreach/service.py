"""The outreach service: events into its store and views; read models and reminders out.

Each agency has views of its own (`OutreachViews`), folded from its events only: the same
member id in two agencies is two people, and an event costs what it changes in its agency's
views, whatever the number of agencies. A view of an agency other than the default one is
keyed `{agency}/…` and marked with the `mingdeng-agency` header, as scoring's outputs are.

Several instances share the agencies (docs/decisions/0005): an instance keeps the views of the
agencies its runner holds (`agency_of`, `drop`, `load`: an `AgencyKeeper`), and publishes and
reminds for those only. No Kafka here: `refresh` returns what to publish, and `send_reminders` takes a `send` function.
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

from mingdeng.contracts.codec import parse_record, record_agency
from mingdeng.contracts.derived import ReminderRequest
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.events import EventData
from mingdeng.outreach.adapters import store
from mingdeng.outreach.domain.state import READS, REMIND_EVERY
from mingdeng.outreach.domain.views import OutreachViews, Publication
from mingdeng.runtime import event_store
from mingdeng.runtime.projection import AgencyFilter, Record

log = logging.getLogger(__name__)

EVENT_TABLE = "outreach.events"
STEP = 2000  # rows computed between two turns of the event loop (a few ms each)
APPLY_STEP = 100  # events of a batch folded in one step (a few ms)
LOAD_CHUNK = 2000  # stored events folded in one step (about 40 ms at start)
LINE_STEP = 1000  # lines assembled in one step
LINES_PER_REFRESH = 20_000  # lines published in one refresh; the rest in the next ones


def every_agency(agency: str) -> bool:
    return True


class OutreachService:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.agencies: dict[str, OutreachViews] = {}  # each agency's views, by agency
        # (agency, key) -> digest of the view published last
        self._published: dict[tuple[str, str], bytes] = {}

    def views_of(self, agency: str) -> OutreachViews:
        views = self.agencies.get(agency)
        if views is None:
            views = self.agencies[agency] = OutreachViews(self.clock(), agency)
        return views

    def apply(self, event: Event[EventData]) -> None:
        self.views_of(event.agency).apply(event)

    @property
    def lines_left(self) -> int:
        return sum(views.lines_left for views in self.agencies.values())

    def agency_of(self, record: Record) -> str:
        return record_agency(record.value, record.headers)

    def drop(self, agencies: AgencyFilter) -> None:
        """Forget the views of `agencies` (another instance holds them now); if they come
        back, they are folded again and published as by a new process."""
        self.agencies = {a: views for a, views in self.agencies.items() if not agencies(a)}
        self._published = {k: d for k, d in self._published.items() if not agencies(k[0])}

    async def load(
        self, connection: asyncpg.Connection, agencies: AgencyFilter = every_agency
    ) -> None:
        """Fold the views of `agencies` from the events kept (at start, when their partition
        comes to this instance, after a transaction rolled back)."""
        wanted = [a for a in await store.agencies(connection, EVENT_TABLE) if agencies(a)]
        if not wanted:
            return
        async for events in store.events_in_order(connection, EVENT_TABLE, LOAD_CHUNK, wanted):
            for event in events:
                self.apply(event)
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
            try:
                event = parse_record(record.value, record.headers, record.key)
            except InvalidEvent:
                continue  # scoring dead-letters invalid inbound events, with their reasons
            if type(event.data) in READS:
                taken.append(event)
        for count, event in enumerate(await event_store.keep(connection, EVENT_TABLE, taken), 1):
            self.apply(event)
            if count % APPLY_STEP == 0:
                await asyncio.sleep(0)  # a turn of the event loop between two steps

    async def _settle(self, views: OutreachViews, now: datetime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if views.settle(now, STEP):
                return
            await asyncio.sleep(0)  # a turn of the event loop between two steps

    async def refresh(
        self,
        *,
        stamp_running: bool = False,
        stop: asyncio.Event | None = None,
        holds: AgencyFilter = every_agency,
    ) -> list[Publication]:
        """The views of every agency whose content changed since they were published last, and
        at most `LINES_PER_REFRESH` changed lines per agency (`lines_left` says how many wait
        for the next call). `stamp_running`: also the running periods' coverage, whose `as_of`
        is now. Asked to `stop`, it ends between two steps (a new process computes every view
        again). Of the agencies `holds` accepts only: held here and folded in full."""
        stop = stop or asyncio.Event()
        changed: list[Publication] = []
        for agency, views in sorted(self.agencies.items()):
            if holds(agency):  # not one folded in part, being taken over
                changed += await self._refresh(views, stamp_running, stop)
        return changed

    async def _refresh(
        self, views: OutreachViews, stamp_running: bool, stop: asyncio.Event
    ) -> list[Publication]:
        now = self.clock()
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
            if self._published.get((views.agency, publication.key)) != digest:
                self._published[(views.agency, publication.key)] = digest
                changed.append(publication)
            await asyncio.sleep(0)
        for _ in range(0, LINES_PER_REFRESH, LINE_STEP):  # lines change only with their row
            changed += [views.publication(ref, now) for ref in views.take_lines(LINE_STEP)]
            await asyncio.sleep(0)
        if not views.lines_left:
            views.first_round = False
        return changed

    async def send_reminders(
        self,
        pool: asyncpg.Pool,
        send: Callable[[str, ReminderRequest], Awaitable[None]],
        holds: AgencyFilter = every_agency,
    ) -> int:
        """Ask the notifier to remind members of overdue visits, at most once per 14 days per
        pairing of an agency: the claim and the send share a transaction, so a failed send
        claims nothing. `send` takes the agency and the request."""
        sent = 0
        for agency, views in sorted(self.agencies.items()):
            if holds(agency):
                sent += await self._send_reminders(agency, views, pool, send)
        if sent:
            log.info("asked for %d overdue-visit reminders", sent)
        return sent

    async def _send_reminders(
        self,
        agency: str,
        views: OutreachViews,
        pool: asyncpg.Pool,
        send: Callable[[str, ReminderRequest], Awaitable[None]],
    ) -> int:
        now = self.clock()
        await self._settle(views, now, asyncio.Event())
        async with pool.acquire() as connection:
            reminded = await store.last_reminded(connection, agency)
        sent = 0
        for item in views.reminders_due(reminded, now):
            async with pool.acquire() as connection, connection.transaction():
                if not await store.claim_reminder(
                    connection, agency, item.household_id, item.member_id, now, REMIND_EVERY
                ):
                    continue
                await send(
                    agency,
                    ReminderRequest(
                        rule="household_visit_overdue",
                        recipient_id=item.member_id,
                        cause=f"{item.household_id}@{now.date().isoformat()}",
                        details=item.model_dump(mode="json"),
                        requested_at=now,
                    ),
                )
                sent += 1
        return sent

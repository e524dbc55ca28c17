"""Schedules: the daily maxim, the monthly bulletin, reminders of overdue commendations, the
meetings of organisational life not held within their period (domain/orglife.py).

Each period of a schedule is claimed in the store in the transaction that enqueues its
messages, so it runs once however many notifiers run. Every schedule is kept per agency: its
periods are claimed, and its messages written, in the agency's store from the agency's
knowledge (a maxim, a bulletin and its 期 number, a meeting's rhythm are an agency's own)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.notify.domain import orglife_rules, rules
from mingdeng.notify.domain.orglife import Rhythm, RhythmPeriod
from mingdeng.notify.known import Known, KnownAgencies, every_agency
from mingdeng.notify.outbox import Outbox
from mingdeng.notify.store import NotifyStore, Stores

log = logging.getLogger(__name__)

MAXIM_AT, MAXIM_UNTIL = time(8, 0), time(22, 0)
BULLETIN_AT = time(9, 0)


class Schedules:
    def __init__(
        self,
        known: KnownAgencies,
        outbox: Outbox,
        stores: Stores,
        clock: Callable[[], datetime],
        rhythm: Rhythm,
    ) -> None:
        self.known, self.outbox, self.stores, self.clock = known, outbox, stores, clock
        self.rhythm = rhythm
        # (agency, schedule, period) claimed by this notifier or another
        self._claimed_periods: set[tuple[str, str, str]] = set()

    async def run(self, holds: Callable[[str], bool] = every_agency) -> list[str]:
        """The schedules of every agency this notifier `holds` (`run_agency`), and the
        reminders of their overdue commendations (one query for all). Returns the periods
        this call claimed."""
        now = self.clock()
        ran = []
        for agency, known in self.known:
            if not holds(agency):
                continue  # another notifier's, or a rebalance is under way
            ran += [
                period if agency == DEFAULT_AGENCY else f"{agency}: {period}"
                for period in await self.run_agency(agency, known, now)
            ]
        async with self.stores.transaction() as platform:
            open_tasks = await platform.open_commendations()
            for agency, tasks in sorted(open_tasks.items()):
                if not holds(agency):
                    continue
                store = platform.of(agency)
                state = self.known.of(agency).state
                for message in rules.overdue_commendations(state, tasks, now):
                    await self.outbox.enqueue(store, message)
        return ran

    async def run_agency(self, agency: str, known: Known, now: datetime) -> list[str]:
        """The daily maxim (08:00 to 22:00), the previous month's bulletin (from the 1st,
        09:00) and that of every earlier month of the history without one, the 党性体检
        reminder of each round about to close, the meetings not held in their period."""
        local = now.astimezone(BUSINESS_TZ)
        ran = []
        state = known.state
        has_maxim = rules.maxim_of_the_day(state, {}) is not None
        if (
            has_maxim
            and MAXIM_AT <= local.time() < MAXIM_UNTIL
            and await self._claimed(agency, "daily_maxim", local.date().isoformat(), self._maxims)
        ):
            ran.append(f"daily_maxim {local.date()}")
        if local.time() >= BULLETIN_AT or local.day > 1:
            previous = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            for month in rules.bulletin_months(state, previous):
                if await self._claimed(agency, "bulletin", month, self._bulletin):
                    ran.append(f"bulletin {month}")
        for round_id in rules.health_card_rounds_due(state, local.date()):
            if await self._claimed(agency, "health_card_reminder", round_id, self._health_cards):
                ran.append(f"health_card_reminder {round_id}")
        for branch_id, kind, period in orglife_rules.due_checks(state, self.rhythm, local.date()):
            if state.secretaries_of_branch(branch_id) and await self._claimed(
                agency,
                "meeting_due",
                f"{branch_id}/{kind}/{period.name}",
                self._meeting_due(branch_id, kind, period),
            ):
                ran.append(f"meeting_due {branch_id}/{kind}/{period.name}")
        return ran

    async def _claimed(
        self,
        agency: str,
        schedule: str,
        period: str,
        action: Callable[[NotifyStore, str], Awaitable[None]],
    ) -> bool:
        """Run `action` for the period unless it ran (here or in another notifier); True when
        this call ran it. A period known to have run is not asked about again."""
        if (agency, schedule, period) in self._claimed_periods:
            return False
        async with self.stores.transaction() as platform:
            store = platform.of(agency)
            claimed = await store.claim_period(schedule, period)
            if claimed:
                await action(store, period)
        self._claimed_periods.add((agency, schedule, period))
        return claimed

    async def _maxims(self, store: NotifyStore, day: str) -> None:
        state = self.known.of(store.agency).state
        maxim_id = rules.maxim_of_the_day(state, await store.maxims_sent())
        if maxim_id is None:
            log.warning("no approved maxim for %s", day)
            return
        for message in rules.daily_maxims(state, maxim_id, day):
            await self.outbox.enqueue(store, message)
        await store.maxim_sent(maxim_id, day)

    def _meeting_due(
        self, branch_id: str, kind: str, period: RhythmPeriod
    ) -> Callable[[NotifyStore, str], Awaitable[None]]:
        """The 未按期 task of a missed period and its one SMS to the branch's secretary."""

        async def open_task(store: NotifyStore, claimed: str) -> None:
            state = self.known.of(store.agency).state
            task = orglife_rules.meeting_task(state, branch_id, kind, period)
            if task is not None and task.status == "open":
                await store.save_task(task)
                await self.outbox.enqueue(store, orglife_rules.meeting_overdue(state, task))

        return open_task

    async def _bulletin(self, store: NotifyStore, month: str) -> None:
        state = self.known.of(store.agency).state
        document = rules.bulletin(state, month, self.clock())
        await store.keep_bulletin(document)
        for message in rules.bulletin_summaries(state, document):
            await self.outbox.enqueue(store, message)

    async def _health_cards(self, store: NotifyStore, round_id: str) -> None:
        for message in rules.health_card_reminders(self.known.of(store.agency).state, round_id):
            await self.outbox.enqueue(store, message)

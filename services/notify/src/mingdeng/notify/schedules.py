"""Schedules: the daily maxim, the monthly bulletin, reminders of overdue commendations, the
meetings of organisational life not held within their period (domain/orglife.py).

Each period of a schedule is claimed in the store in the transaction that enqueues its
messages, so it runs once however many notifiers run."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta

from mingdeng.contracts.periods import BUSINESS_TZ
from mingdeng.notify.domain import orglife_rules, rules
from mingdeng.notify.domain.orglife import Rhythm, RhythmPeriod
from mingdeng.notify.known import Known
from mingdeng.notify.outbox import Outbox
from mingdeng.notify.store import NotifyStore, Stores

log = logging.getLogger(__name__)

MAXIM_AT, MAXIM_UNTIL = time(8, 0), time(22, 0)
BULLETIN_AT = time(9, 0)


class Schedules:
    def __init__(
        self,
        known: Known,
        outbox: Outbox,
        stores: Stores,
        clock: Callable[[], datetime],
        rhythm: Rhythm,
    ) -> None:
        self.known, self.outbox, self.stores, self.clock = known, outbox, stores, clock
        self.rhythm = rhythm
        self._claimed_periods: set[tuple[str, str]] = set()  # by this notifier or another

    async def run(self) -> list[str]:
        """The daily maxim (08:00 to 22:00), the previous month's bulletin (from the 1st,
        09:00) and that of every earlier month of the history without one, overdue
        commendations, the 党性体检 reminder of each round about to close. Returns the periods this call claimed."""
        now = self.clock()
        local = now.astimezone(BUSINESS_TZ)
        ran = []
        has_maxim = rules.maxim_of_the_day(self.known.state, {}) is not None
        if (
            has_maxim
            and MAXIM_AT <= local.time() < MAXIM_UNTIL
            and await self._claimed("daily_maxim", local.date().isoformat(), self._maxims)
        ):
            ran.append(f"daily_maxim {local.date()}")
        if local.time() >= BULLETIN_AT or local.day > 1:
            previous = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
            for month in rules.bulletin_months(self.known.state, previous):
                if await self._claimed("bulletin", month, self._bulletin):
                    ran.append(f"bulletin {month}")
        for round_id in rules.health_card_rounds_due(self.known.state, local.date()):
            if await self._claimed("health_card_reminder", round_id, self._health_cards):
                ran.append(f"health_card_reminder {round_id}")
        async with self.stores.transaction() as store:
            open_tasks = await store.open_commendations()
            for message in rules.overdue_commendations(self.known.state, open_tasks, now):
                await self.outbox.enqueue(store, message)
        for branch_id, kind, period in orglife_rules.due_checks(
            self.known.state, self.rhythm, local.date()
        ):
            if self.known.state.secretaries_of_branch(branch_id) and await self._claimed(
                "meeting_due",
                f"{branch_id}/{kind}/{period.name}",
                self._meeting_due(branch_id, kind, period),
            ):
                ran.append(f"meeting_due {branch_id}/{kind}/{period.name}")
        return ran

    async def _claimed(
        self,
        schedule: str,
        period: str,
        action: Callable[[NotifyStore, str], Awaitable[None]],
    ) -> bool:
        """Run `action` for the period unless it ran (here or in another notifier); True when
        this call ran it. A period known to have run is not asked about again."""
        if (schedule, period) in self._claimed_periods:
            return False
        async with self.stores.transaction() as store:
            claimed = await store.claim_period(schedule, period)
            if claimed:
                await action(store, period)
        self._claimed_periods.add((schedule, period))
        return claimed

    async def _maxims(self, store: NotifyStore, day: str) -> None:
        maxim_id = rules.maxim_of_the_day(self.known.state, await store.maxims_sent())
        if maxim_id is None:
            log.warning("no approved maxim for %s", day)
            return
        for message in rules.daily_maxims(self.known.state, maxim_id, day):
            await self.outbox.enqueue(store, message)
        await store.maxim_sent(maxim_id, day)

    def _meeting_due(
        self, branch_id: str, kind: str, period: RhythmPeriod
    ) -> Callable[[NotifyStore, str], Awaitable[None]]:
        """The 未按期 task of a missed period and its one SMS to the branch's secretary."""

        async def open_task(store: NotifyStore, claimed: str) -> None:
            task = orglife_rules.meeting_task(self.known.state, branch_id, kind, period)
            if task is not None and task.status == "open":
                await store.save_task(task)
                await self.outbox.enqueue(
                    store, orglife_rules.meeting_overdue(self.known.state, task)
                )

        return open_task

    async def _bulletin(self, store: NotifyStore, month: str) -> None:
        document = rules.bulletin(self.known.state, month, self.clock())
        await store.keep_bulletin(document)
        for message in rules.bulletin_summaries(self.known.state, document):
            await self.outbox.enqueue(store, message)

    async def _health_cards(self, store: NotifyStore, round_id: str) -> None:
        for message in rules.health_card_reminders(self.known.state, round_id):
            await self.outbox.enqueue(store, message)

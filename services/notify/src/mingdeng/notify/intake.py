"""Intake: what the notifier reads, kept in its store and folded into what it knows; then the
task and message rules evaluated for what the batch affected, in the same transaction as the
consumed offsets (the ProjectionRunner's). Messages go into the outbox once per key, so
evaluating again is safe.

The work of a batch is proportional to what it changed, not to what is known: the state notes
which violations, exemplars and quarters each event affected (domain/state.py), and only their
rules run. tests/unit/notify/test_incremental.py holds this beside evaluating everything.

Each record belongs to an agency (an inbound event by its `agency` attribute, a derived record
by its `mingdeng-agency` header): it is folded into that agency's knowledge and its rules run
on that agency's store, so a batch costs what its own agencies' records change, whatever the
number of agencies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from pydantic import TypeAdapter

from mingdeng.contracts.codec import parse_record, record_agency
from mingdeng.contracts.derived import QuarterSelection, ReminderRequest, Selection
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS, REMINDER_REQUESTS, SELECTIONS, Topic
from mingdeng.notify.domain import orglife_rules, rules
from mingdeng.notify.domain.orglife import RhythmPeriod
from mingdeng.notify.domain.rules import Message
from mingdeng.notify.domain.state import READS, Affected
from mingdeng.notify.known import KnownAgencies
from mingdeng.notify.outbox import Outbox
from mingdeng.notify.store import NotifyStore
from mingdeng.runtime.agencies import header_agency
from mingdeng.runtime.projection import Record

SELECTION: TypeAdapter[Selection] = TypeAdapter(Selection)


Taker = Callable[["Intake", NotifyStore, Record], Awaitable[None]]


class Intake:
    def __init__(
        self,
        known: KnownAgencies,
        outbox: Outbox,
        clock: Callable[[], datetime],
        topic_name: Callable[[Topic], str] = lambda topic: topic.name,
    ) -> None:
        self.known, self.outbox, self.clock = known, outbox, clock
        self._topics: dict[str, Topic] = {topic_name(t): t for t in TAKERS}
        self._requested: defaultdict[str, list[Message]] = defaultdict(list)
        self._read: defaultdict[str, list[Event[EventData]]] = defaultdict(list)
        self._touched: set[str] = set()  # the agencies of the batch

    @property
    def topic_names(self) -> list[str]:
        return list(self._topics)

    def agency_of(self, record: Record) -> str:
        """The agency a record belongs to, without reading it whole."""
        if self._topics[record.topic] is EVENTS:
            return record_agency(record.value, record.headers)
        return header_agency(record.headers)

    async def handle(self, store: NotifyStore, records: Sequence[Record]) -> None:
        """Take a batch of records in (a ProjectionRunner handler, given the runner's store)."""
        self._requested.clear()
        self._read.clear()
        self._touched = set()
        for record in records:
            await TAKERS[self._topics[record.topic]](self, store, record)
        for agency in sorted(self._touched):
            state = self.known.of(agency).state
            for new in await store.keep_events(self._read[agency]):  # none for a redelivery
                state.apply(new)
            own = store.of(agency)
            for message in self._requested[agency]:
                await self.outbox.enqueue(own, message)
            await self.evaluate(own, state.take_affected())

    async def _take_event(self, store: NotifyStore, record: Record) -> None:
        """An event the notifier reads: kept and folded with the rest of the batch."""
        try:
            event = parse_record(record.value, record.headers, record.key)
        except InvalidEvent:
            return  # scoring dead-letters invalid inbound events, with their reasons
        if type(event.data) in READS:
            self._read[event.agency].append(event)
            self._touched.add(event.agency)

    async def _take_selection(self, store: NotifyStore, record: Record) -> None:
        """Keep a final quarter selection (commendation tasks come from it). An unreadable one
        is raised, and the runner parks the record with the reason."""
        if record.value is None:
            return  # a tombstone
        selection = SELECTION.validate_json(record.value)
        if isinstance(selection, QuarterSelection) and selection.status == "final":
            agency = header_agency(record.headers)
            await store.of(agency).keep_selection(selection)
            self.known.of(agency).select(selection)
            self._touched.add(agency)

    async def _take_request(self, store: NotifyStore, record: Record) -> None:
        """A reminder another service asks for: sent after the batch is folded (its recipient
        may be registered in the same batch). An unreadable one is raised, and parked."""
        if record.value is not None:
            request = ReminderRequest.model_validate_json(record.value)
            agency = header_agency(record.headers)
            self._requested[agency].append(rules.requested_message(request))
            self._touched.add(agency)

    async def evaluate(self, store: NotifyStore, affected: Affected) -> None:
        """Apply the rules of the store's agency to what `affected` names. Safe to repeat: one
        message per key."""
        known = self.known.of(store.agency)
        state = known.state
        for violation_id in sorted(affected.violations):
            for message in rules.violation_reminders(state, violation_id):
                await self.outbox.enqueue(store, message)
            task = rules.talk_task(state, violation_id)
            if task is not None:
                await store.save_task(task)
        for cause in sorted(affected.decisions):
            told = rules.decision_message(state, cause)
            if told is not None:
                await self.outbox.enqueue(store, told)
        exemplars = {
            (quarter, exemplar.member_id)
            for quarter in affected.quarters
            if (selection := known.selections.get(quarter))
            for exemplar in selection.exemplars
        }
        exemplars |= {
            (quarter, member_id)
            for member_id in affected.exemplars
            for quarter in known.quarters_of_exemplar.get(member_id, ())
        }
        for quarter, member_id in sorted(exemplars):
            closed_at = state.closes.get(quarter)
            if closed_at is None:
                # the final selection was read before its close (they come on two topics): the
                # task waits for the close, which dates it; made now, a quarter long past loaded
                # as history would look due in 14 days and its leader be told (issue 22)
                continue
            task = rules.commendation_task(state, quarter, member_id, closed_at)
            if task is not None:
                await store.save_task(task)
                await self.outbox.enqueue(store, rules.commendation_assigned(state, task))
        for branch_id, kind in sorted(affected.meetings_held):
            for open_task in await store.open_meeting_tasks(branch_id, kind):
                assert open_task.period is not None
                period = RhythmPeriod.named(open_task.period)
                task = orglife_rules.meeting_task(state, branch_id, kind, period)
                if task is not None:
                    await store.save_task(task)
        for member_id in sorted(affected.attendance):
            for task in orglife_rules.absence_tasks(state, member_id):
                await store.save_task(task)


# The topics the notifier reads, each with the one taker of its records.
TAKERS: Mapping[Topic, Taker] = {
    EVENTS: Intake._take_event,
    SELECTIONS: Intake._take_selection,
    REMINDER_REQUESTS: Intake._take_request,
}

"""Intake: what the notifier reads, kept in its store and folded into what it knows; then the
task and message rules evaluated, in the same transaction as the consumed offsets (the
ProjectionRunner's). Messages go into the outbox once per key, so evaluating again is safe."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from mingdeng.contracts import events as ev
from mingdeng.contracts.codec import parse_record
from mingdeng.contracts.derived import QuarterSelection, ReminderRequest, Selection
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.events import EventData
from mingdeng.contracts.topics import EVENTS, REMINDER_REQUESTS, SELECTIONS, Topic
from mingdeng.notify.domain import rules
from mingdeng.notify.domain.rules import Message
from mingdeng.notify.domain.state import READS
from mingdeng.notify.known import Known
from mingdeng.notify.outbox import Outbox
from mingdeng.notify.store import NotifyStore
from mingdeng.runtime.projection import Record

SELECTION: TypeAdapter[Selection] = TypeAdapter(Selection)


def _always(data: Any) -> bool:
    return True


# The events after which the task and message rules are evaluated again, each with whether this
# one matters to them. The rest of READS (lectures, household and community visits, maxims,
# preferences) only feeds the bulletin and the maxim, which are read at their scheduled time.
RULE_INPUTS: dict[type[EventData], Callable[[Any], bool]] = {
    ev.MemberRegistered: _always,
    ev.MemberLeft: _always,
    ev.DepartmentRegistered: _always,
    ev.ViolationLogged: _always,
    ev.ViolationRetracted: _always,
    ev.TalkHeld: _always,
    ev.QuarterClosed: _always,
    ev.VisitMade: lambda data: data.kind == "commendation",
}

Taker = Callable[["Intake", NotifyStore, Record], Awaitable[bool]]


class Intake:
    def __init__(
        self,
        known: Known,
        outbox: Outbox,
        clock: Callable[[], datetime],
        topic_name: Callable[[Topic], str] = lambda topic: topic.name,
    ) -> None:
        self.known, self.outbox, self.clock = known, outbox, clock
        self._topics: dict[str, Topic] = {topic_name(t): t for t in TAKERS}
        self._requested: list[Message] = []

    @property
    def topic_names(self) -> list[str]:
        return list(self._topics)

    async def handle(self, store: NotifyStore, records: Sequence[Record]) -> None:
        """Take a batch of records in (a ProjectionRunner handler, given the runner's store)."""
        self._requested = []
        rules_read_it = False
        for record in records:
            rules_read_it |= await TAKERS[self._topics[record.topic]](self, store, record)
        for message in self._requested:
            await self.outbox.enqueue(store, message)
        if rules_read_it:  # evaluating touches every violation and task: only when it can matter
            await self.evaluate(store)

    async def _take_event(self, store: NotifyStore, record: Record) -> bool:
        """Keep an event the notifier reads; True when a rule reads it too."""
        try:
            event = parse_record(record.value, record.headers, record.key)
        except InvalidEvent:
            return False  # scoring dead-letters invalid inbound events, with their reasons
        if type(event.data) not in READS:
            return False
        for new in await store.keep_events([event]):
            self.known.state.apply(new)
            matters = RULE_INPUTS.get(type(new.data))
            return matters is not None and matters(new.data)
        return False  # already kept: a redelivery

    async def _take_selection(self, store: NotifyStore, record: Record) -> bool:
        """Keep a final quarter selection (commendation tasks come from it); True if it was one.
        An unreadable one is raised, and the runner parks the record with the reason."""
        if record.value is None:
            return False  # a tombstone
        selection = SELECTION.validate_json(record.value)
        if isinstance(selection, QuarterSelection) and selection.status == "final":
            await store.keep_selection(selection)
            self.known.selections[selection.quarter] = selection
            return True
        return False

    async def _take_request(self, store: NotifyStore, record: Record) -> bool:
        """A reminder another service asks for: sent after the batch is folded (its recipient
        may be registered in the same batch). An unreadable one is raised, and parked."""
        if record.value is not None:
            request = ReminderRequest.model_validate_json(record.value)
            self._requested.append(rules.requested_message(request))
        return False

    async def evaluate(self, store: NotifyStore) -> None:
        """Apply every rule to what is known. Safe to repeat: one message per key."""
        state, now = self.known.state, self.clock()
        for violation_id in sorted(state.violations):
            for message in rules.violation_reminders(state, violation_id):
                await self.outbox.enqueue(store, message)
            task = rules.talk_task(state, violation_id, now)
            if task is not None:
                await store.save_task(task)
        for quarter, selection in sorted(self.known.selections.items()):
            closed_at = state.closes.get(quarter, now)
            for task in rules.commendation_tasks(state, selection, closed_at):
                await store.save_task(task)
                await self.outbox.enqueue(store, rules.commendation_assigned(state, task))


# The topics the notifier reads, each with the one taker of its records.
TAKERS: Mapping[Topic, Taker] = {
    EVENTS: Intake._take_event,
    SELECTIONS: Intake._take_selection,
    REMINDER_REQUESTS: Intake._take_request,
}

"""The notifier's store in memory, and a provider that records what it was given: the notifier's
parts run against them without a database or a broker. The store passes the same contract
tests as the PostgreSQL one (tests/integration/notify/test_store.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.derived import Bulletin, QuarterSelection, Task
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.notify.adapters.providers import Outgoing, ProviderError
from mingdeng.notify.domain.state import Affected
from mingdeng.notify.known import Known
from mingdeng.notify.store import Claimed, Queued, Status


@dataclass
class Row:
    """A row of the outbox, as PostgreSQL keeps it."""

    agency: str
    message: Queued
    status: Status
    reason: str | None
    not_before: datetime
    attempts: int = 0
    claimed_at: datetime | None = None
    claimed_by: str | None = None
    sent_at: datetime | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    created_at: datetime | None = None

    def claimed(self) -> Claimed:
        m = self.message
        assert self.created_at is not None
        return Claimed(
            self.agency,
            m.key,
            m.rule,
            m.recipient_id,
            m.phone,
            m.text,
            m.params,
            m.urgent,
            self.attempts,
            self.created_at,
            self.claimed_at,
        )


@dataclass
class AgencyTables:
    """What an agency keeps: another agency's rows of the same keys are others."""

    selections: dict[str, QuarterSelection] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    outbox: dict[str, Row] = field(default_factory=dict)
    schedule_runs: set[tuple[str, str]] = field(default_factory=set)
    maxim_rotation: dict[str, str] = field(default_factory=dict)
    bulletins: dict[str, Bulletin] = field(default_factory=dict)

    def copy(self) -> AgencyTables:
        return AgencyTables(
            dict(self.selections),
            dict(self.tasks),
            {key: replace(row) for key, row in self.outbox.items()},
            set(self.schedule_runs),
            dict(self.maxim_rotation),
            dict(self.bulletins),
        )


@dataclass
class Tables:
    events: dict[tuple[str, str], Event[EventData]] = field(default_factory=dict)
    instances: dict[str, datetime] = field(default_factory=dict)  # when each was last seen
    agencies: dict[str, AgencyTables] = field(default_factory=dict)

    def of(self, agency: str) -> AgencyTables:
        return self.agencies.setdefault(agency, AgencyTables())

    def copy(self) -> Tables:
        return Tables(
            dict(self.events),
            dict(self.instances),
            {agency: tables.copy() for agency, tables in self.agencies.items()},
        )

    # the default agency's tables, as the tests of one agency read them
    @property
    def selections(self) -> dict[str, QuarterSelection]:
        return self.of(DEFAULT_AGENCY).selections

    @property
    def tasks(self) -> dict[str, Task]:
        return self.of(DEFAULT_AGENCY).tasks

    @property
    def outbox(self) -> dict[str, Row]:
        return self.of(DEFAULT_AGENCY).outbox

    @property
    def schedule_runs(self) -> set[tuple[str, str]]:
        return self.of(DEFAULT_AGENCY).schedule_runs

    @property
    def bulletins(self) -> dict[str, Bulletin]:
        return self.of(DEFAULT_AGENCY).bulletins

    def rows(self) -> list[Row]:
        """Every agency's messages."""
        return [
            row for _, tables in sorted(self.agencies.items()) for row in tables.outbox.values()
        ]


class FakeStore:
    def __init__(self, tables: Tables, now: datetime, agency: str = DEFAULT_AGENCY) -> None:
        self.tables = tables
        self.t = tables.of(agency)
        self.now = now  # what PostgreSQL's now() would give: rows' created_at
        self.agency = agency

    def of(self, agency: str) -> FakeStore:
        return type(self)(self.tables, self.now, agency)

    async def keep_events(self, events: Sequence[Event[EventData]]) -> list[Event[EventData]]:
        new = []
        for event in events:
            if event.key not in self.tables.events:
                self.tables.events[event.key] = event
                new.append(event)
        return new

    async def agencies(self) -> list[str]:
        return sorted(
            {e.agency for e in self.tables.events.values()}
            | {a for a, tables in self.tables.agencies.items() if tables.selections}
        )

    async def events(self, agencies: Sequence[str]) -> list[Event[EventData]]:
        return sorted(
            (e for e in self.tables.events.values() if e.agency in agencies),
            key=lambda e: (e.time, e.source, e.id),
        )

    async def keep_selection(self, selection: QuarterSelection) -> None:
        self.t.selections[selection.quarter] = selection

    async def selections(self, agencies: Sequence[str]) -> list[tuple[str, QuarterSelection]]:
        return [
            (agency, tables.selections[quarter])
            for agency, tables in sorted(self.tables.agencies.items())
            if agency in agencies
            for quarter in sorted(tables.selections)
        ]

    async def save_task(self, task: Task) -> bool:
        changed = self.t.tasks.get(task.task_id) != task
        self.t.tasks[task.task_id] = task
        return changed

    async def tasks(self) -> list[Task]:
        return [self.t.tasks[k] for k in sorted(self.t.tasks)]

    async def task(self, task_id: str) -> Task | None:
        return self.t.tasks.get(task_id)

    async def open_commendations(self) -> dict[str, list[Task]]:
        tasks: dict[str, list[Task]] = {}
        for agency, tables in sorted(self.tables.agencies.items()):
            for _, task in sorted(tables.tasks.items()):
                if task.kind == "commendation" and task.status == "open":
                    tasks.setdefault(agency, []).append(task)
        return tasks

    async def open_meeting_tasks(self, branch_id: str, kind: str) -> list[Task]:
        return [
            t
            for _, t in sorted(self.t.tasks.items())
            if t.kind == "meeting" and t.status == "open"
            and (t.branch_id, t.cause) == (branch_id, kind)
        ]  # fmt: skip

    async def enqueue(self, message: Queued) -> bool:
        if message.key in self.t.outbox:
            return False
        self.t.outbox[message.key] = Row(
            self.agency,
            message,
            message.status,
            message.reason,
            message.not_before,
            created_at=self.now,
        )
        return True

    async def claim_next(self, now: datetime, claimant: str) -> Claimed | None:
        rows = self.tables.rows()
        due = [r for r in rows if r.status == "queued" and r.not_before <= now]
        if not due:
            return None
        row = min(due, key=lambda r: (not r.message.urgent, r.not_before, r.agency, r.message.key))
        row.status, row.attempts, row.claimed_at = "sending", row.attempts + 1, now
        row.claimed_by = claimant
        return row.claimed()

    async def settle(
        self,
        key: str,
        now: datetime,
        *,
        status: Status,
        reason: str | None = None,
        provider: str | None = None,
        provider_message_id: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        row = self.t.outbox.get(key)
        if row is None:
            return
        row.status, row.reason = status, reason
        row.provider = provider or row.provider
        row.provider_message_id = provider_message_id or row.provider_message_id
        row.sent_at = now if status == "sent" else row.sent_at
        row.not_before = not_before or row.not_before

    async def postpone(self, key: str, now: datetime, not_before: datetime, reason: str) -> None:
        self.t.outbox[key].attempts -= 1
        await self.settle(key, now, status="queued", not_before=not_before, reason=reason)

    async def sent_to(self, phone: str, since: datetime) -> list[datetime]:
        return [
            r.sent_at
            for r in self.tables.rows()
            if r.status == "sent" and r.message.phone == phone and r.sent_at and r.sent_at > since
        ]

    async def unsettled(
        self, claimed_before: datetime, seen_before: datetime, instance: str
    ) -> list[Claimed]:
        def gone(claimant: str | None) -> bool:
            seen = self.tables.instances.get(claimant) if claimant else None
            return claimant != instance and (seen is None or seen < seen_before)

        return [
            row.claimed()
            for row in sorted(self.tables.rows(), key=lambda r: (r.agency, r.message.key))
            if row.status == "sending"
            and row.claimed_at is not None
            and (row.claimed_at < claimed_before or gone(row.claimed_by))
        ]

    async def seen(self, instance: str, now: datetime) -> None:
        self.tables.instances[instance] = now

    async def gone(self, instance: str) -> None:
        self.tables.instances.pop(instance, None)

    async def claim_period(self, schedule: str, period: str) -> bool:
        if (schedule, period) in self.t.schedule_runs:
            return False
        self.t.schedule_runs.add((schedule, period))
        return True

    async def maxims_sent(self) -> dict[str, str]:
        return dict(self.t.maxim_rotation)

    async def maxim_sent(self, maxim_id: str, day: str) -> None:
        self.t.maxim_rotation[maxim_id] = day

    async def keep_bulletin(self, document: Bulletin) -> None:
        self.t.bulletins.setdefault(document.month, document)


class FakeStores:
    """Transactions over one set of tables: a block that raises leaves them as they were."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.tables = Tables()
        self.clock = clock

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeStore]:
        before = self.tables.copy()
        try:
            yield FakeStore(self.tables, self.clock())
        except BaseException:
            self.tables.__dict__.update(before.__dict__)
            raise

    def status(self, key: str, agency: str = DEFAULT_AGENCY) -> tuple[Status, str | None]:
        row = self.tables.of(agency).outbox[key]
        return row.status, row.reason


@dataclass
class FakeProvider:
    """Sends by recording; `fail` gives the error for a key's next sends (one per call)."""

    name: str = "fake"
    sent: list[Outgoing] = field(default_factory=list)
    fail: dict[str, list[ProviderError]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def send(self, message: Outgoing) -> str:
        errors = self.fail.get(message.key)
        if errors:
            raise errors.pop(0)
        self.sent.append(message)
        return f"{self.name}:{len(self.sent)}"

    async def find(self, message: Outgoing, since: datetime) -> str | None:
        self.asked.append(message.key)
        for n, earlier in enumerate(self.sent, 1):
            if earlier.key == message.key:
                return f"{self.name}:{n}"
        return None

    def keys(self) -> list[str]:
        return [m.key for m in self.sent]


def everything(known: Known) -> Affected:
    """Every violation and every selected quarter of one agency: the rules applied to everything
    it knows."""
    return Affected(
        violations=set(known.state.violations),
        quarters=set(known.selections),
        decisions=set(known.state.decisions),
    )

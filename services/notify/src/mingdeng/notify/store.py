"""The notifier's store, a port: what it keeps, read and written inside one transaction.

PostgreSQL in `adapters/store.py`; in memory for the unit tests (tests/unit/notify/fakes.py).
Both pass the same contract tests (tests/integration/notify/test_store.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from mingdeng.contracts.derived import Bulletin, QuarterSelection, Task
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData

Status = Literal["queued", "sending", "sent", "failed", "suppressed"]


@dataclass(frozen=True)
class Queued:
    """A message as the outbox takes it: rendered, and queued or suppressed (with the reason)."""

    key: str  # rule/recipient/cause: at most one message each
    rule: str
    recipient_id: str
    cause: str
    phone: str | None
    text: str
    params: dict[str, str]
    urgent: bool
    not_before: datetime
    status: Literal["queued", "suppressed"] = "queued"
    reason: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A message of the outbox as the dispatcher and the reconciler see it."""

    agency: str
    key: str
    rule: str
    recipient_id: str
    phone: str | None
    text: str
    params: dict[str, str]
    urgent: bool
    attempts: int
    created_at: datetime
    claimed_at: datetime | None


class NotifyStore(Protocol):
    """Reads and writes of one transaction, for one agency (`agency`; `of` gives the same
    transaction for another). What an agency keeps (tasks, messages, bulletins, selections,
    schedule runs, the maxims' rotation) is its own: the same key in two agencies is two rows.
    Events, the claims of due messages, the per-number counts and the instances are the
    platform's (docs/notify.md, "Agencies")."""

    agency: str

    def of(self, agency: str) -> NotifyStore:
        """The same transaction, for `agency`."""
        ...

    # --- intake ---------------------------------------------------------------------------

    async def keep_events(self, events: Sequence[Event[EventData]]) -> list[Event[EventData]]:
        """Keep the events not kept yet, once per (source, id); return those (a redelivery
        returns none)."""
        ...

    async def agencies(self) -> list[str]:
        """The agencies with events or selections kept."""
        ...

    async def events(self, agencies: Sequence[str]) -> list[Event[EventData]]:
        """Every event kept of `agencies`, by (time, source, id)."""
        ...

    async def keep_selection(self, selection: QuarterSelection) -> None:
        """Keep a final selection, replacing the quarter's earlier one."""
        ...

    async def selections(self, agencies: Sequence[str]) -> list[tuple[str, QuarterSelection]]:
        """The final selections of `agencies`, with their agency."""
        ...

    async def save_task(self, task: Task) -> bool:
        """Insert or update a task; True when something changed."""
        ...

    async def tasks(self) -> list[Task]:
        """Every task, by id."""
        ...

    async def open_commendations(self) -> dict[str, list[Task]]:
        """Every agency's commendation tasks still open, by agency and id."""
        ...

    async def task(self, task_id: str) -> Task | None: ...

    async def open_meeting_tasks(self, branch_id: str, kind: str) -> list[Task]:
        """The branch's `meeting` tasks of a meeting kind still open, by id."""
        ...

    # --- the outbox -----------------------------------------------------------------------

    async def enqueue(self, message: Queued) -> bool:
        """Add a message unless its key exists; True when it was new."""
        ...

    async def claim_next(self, now: datetime, claimant: str) -> Claimed | None:
        """Take the next queued message of any agency due by `now` (urgent first, then the longest due, then
        by key), marking it 'sending' by `claimant` (a notifier's instance) and counting an
        attempt. Commit before calling a provider."""
        ...

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
        """Record what became of a message ('sent' also records `now` as when)."""
        ...

    async def postpone(self, key: str, now: datetime, not_before: datetime, reason: str) -> None:
        """Queue a claimed message again for later, without counting the attempt."""
        ...

    async def sent_to(self, phone: str, since: datetime) -> list[datetime]:
        """When messages to this number were sent after `since`, by any agency (the limits
        are a phone's)."""
        ...

    async def unsettled(
        self, claimed_before: datetime, seen_before: datetime, instance: str
    ) -> list[Claimed]:
        """Messages of any agency left 'sending' (a crash between claim and record): those claimed
        before `claimed_before`, and those claimed by another instance than `instance` that is
        gone (stopped, or last seen before `seen_before`)."""
        ...

    async def seen(self, instance: str, now: datetime) -> None:
        """A notifier's instance is alive at `now`."""
        ...

    async def gone(self, instance: str) -> None:
        """A notifier's instance has stopped."""
        ...

    # --- schedules ------------------------------------------------------------------------

    async def claim_period(self, schedule: str, period: str) -> bool:
        """Claim one period of a schedule; False when it was claimed before (by anyone)."""
        ...

    async def maxims_sent(self) -> dict[str, str]:
        """The day each maxim was last sent."""
        ...

    async def maxim_sent(self, maxim_id: str, day: str) -> None: ...

    async def keep_bulletin(self, document: Bulletin) -> None:
        """Keep a month's bulletin, unless that month has one."""
        ...


class Stores(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[NotifyStore]:
        """A store whose writes are committed when the block ends, none of them if it raises."""
        ...

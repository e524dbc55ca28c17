"""The notifier, wired: events in, messages and tasks out, through an outbox in its store.

- `intake` (intake.py) keeps what the rules read and evaluates them in the ProjectionRunner's
  transaction: messages are enqueued with the consumed offsets, once per key.
- `dispatcher` (dispatch.py) claims a message ('sending', committed), calls the provider,
  records the outcome; within the per-number limits.
- `reconciler` (reconcile.py) settles messages a crash left 'sending' by asking the providers,
  never by sending blindly again.
- `schedules` (schedules.py) claims each period of a schedule in the store, so that it runs
  once however many notifiers run, and enqueues its messages in the same transaction.

They share what the notifier knows (known.py) and the outbox (outbox.py); SQL stays behind the
store port (store.py), PostgreSQL in adapters/store.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from mingdeng.contracts.topics import Topic
from mingdeng.notify.adapters.providers import ProviderChain
from mingdeng.notify.adapters.templates import Template
from mingdeng.notify.dispatch import Dispatcher
from mingdeng.notify.domain.delivery import QUIET_HOURS, Limit, QuietHours
from mingdeng.notify.domain.state import READS
from mingdeng.notify.intake import Intake
from mingdeng.notify.known import Known
from mingdeng.notify.outbox import Outbox
from mingdeng.notify.reconcile import Reconciler
from mingdeng.notify.schedules import Schedules
from mingdeng.notify.store import Stores

__all__ = ["READS", "NotifyService"]


class NotifyService:
    def __init__(
        self,
        *,
        stores: Stores,
        templates: Mapping[str, Template],
        providers: ProviderChain,
        limits: Sequence[Limit],
        clock: Callable[[], datetime],
        topic_name: Callable[[Topic], str] = lambda topic: topic.name,
        max_attempts: int = 8,
        settle_after: timedelta = timedelta(seconds=60),
        quiet_hours: QuietHours | None = QUIET_HOURS,
    ) -> None:
        self.stores = stores
        self.known = Known()
        self.outbox = Outbox(self.known, templates, clock, quiet_hours)
        self.intake = Intake(self.known, self.outbox, clock, topic_name)
        self.dispatcher = Dispatcher(stores, templates, providers, limits, clock, max_attempts)
        self.reconciler = Reconciler(stores, templates, providers, clock, settle_after)
        self.schedules = Schedules(self.known, self.outbox, stores, clock)

    async def load(self) -> None:
        """Fold what the notifier knows from its store (at start)."""
        async with self.stores.transaction() as store:
            await self.known.load(store)

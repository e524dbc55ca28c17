"""The notifier, wired: events in, messages and tasks out, through an outbox in its store.

- `intake` (intake.py) keeps what the rules read and evaluates them in the ProjectionRunner's
  transaction: messages are enqueued with the consumed offsets, once per key.
- `dispatcher` (dispatch.py) claims a message ('sending', committed), calls the provider,
  records the outcome; within the per-number limits.
- `reconciler` (reconcile.py) settles messages a crash left 'sending' by asking the providers,
  never by sending blindly again; each claim names the instance that made it.
- `schedules` (schedules.py) claims each period of a schedule in the store, so that it runs
  once however many notifiers run, and enqueues its messages in the same transaction.

They share what the notifier knows (known.py) and the outbox (outbox.py); SQL stays behind the
store port (store.py), PostgreSQL in adapters/store.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from mingdeng.contracts.topics import Topic
from mingdeng.notify.adapters.providers import ProviderChain
from mingdeng.notify.adapters.templates import Profiles, Template
from mingdeng.notify.dispatch import Dispatcher
from mingdeng.notify.domain.delivery import QUIET_HOURS, Limit, QuietHours
from mingdeng.notify.domain.orglife import DEFAULT_RHYTHM_FILE, Rhythm
from mingdeng.notify.domain.state import READS
from mingdeng.notify.intake import Intake
from mingdeng.notify.known import KnownAgencies
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
        claim_lease: timedelta = timedelta(seconds=20),
        quiet_hours: QuietHours | None = QUIET_HOURS,
        instance: str | None = None,
        rhythm: Rhythm | None = None,
        profiles: Profiles | None = None,
    ) -> None:
        """`profiles`: each agency's signature and templates (default: `templates` for all)."""
        self.stores = stores
        self.instance = instance or uuid.uuid4().hex  # this run of the notifier
        self.known = KnownAgencies()
        self.profiles = profiles or Profiles(templates)
        self.outbox = Outbox(self.known, self.profiles, clock, quiet_hours)
        self.intake = Intake(self.known, self.outbox, clock, topic_name)
        self.dispatcher = Dispatcher(
            stores, self.profiles, providers, limits, clock, self.instance, max_attempts
        )
        self.reconciler = Reconciler(
            stores, self.profiles, providers, clock, self.instance, settle_after, claim_lease
        )
        self.schedules = Schedules(
            self.known, self.outbox, stores, clock, rhythm or Rhythm.load(DEFAULT_RHYTHM_FILE)
        )

    async def load(self) -> None:
        """At start: fold what the notifier knows from its store, and say this instance is
        alive (before it claims anything)."""
        async with self.stores.transaction() as store:
            await self.known.load(store)
        await self.reconciler.alive()

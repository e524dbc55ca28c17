"""Reconcile: messages a crash left 'sending' are settled by asking the providers whether they
have them (by the message's key), never by sending them blindly again.

A claim carries the instance of the notifier that made it, and each instance says it is alive
every few seconds (`seen`). A claim whose instance is gone (stopped, or not seen within the
lease: killed) is settled at once, whatever the traffic; any claim older than `settle_after` is
settled too (the instance's own record of the outcome failed)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from mingdeng.notify.adapters.providers import ProviderChain, ProviderError
from mingdeng.notify.adapters.templates import Profiles
from mingdeng.notify.dispatch import outgoing
from mingdeng.notify.store import Stores

log = logging.getLogger(__name__)

# How far before its claim a provider is asked about a message (clocks differ).
LOOK_BACK = timedelta(minutes=5)


class Reconciler:
    def __init__(
        self,
        stores: Stores,
        profiles: Profiles,
        providers: ProviderChain,
        clock: Callable[[], datetime],
        instance: str,
        settle_after: timedelta = timedelta(seconds=60),
        lease: timedelta = timedelta(seconds=20),
    ) -> None:
        self.stores, self.profiles, self.providers = stores, profiles, providers
        self.clock, self.instance = clock, instance
        self.settle_after, self.lease = settle_after, lease

    async def alive(self) -> None:
        """Say this instance is alive; its claims are its own for `lease` after."""
        async with self.stores.transaction() as store:
            await store.seen(self.instance, self.clock())

    async def stopped(self) -> None:
        """Say this instance has stopped."""
        async with self.stores.transaction() as store:
            await store.gone(self.instance)

    async def reconcile(self) -> int:
        """Settle messages still 'sending' that were claimed by an instance that is gone, or
        longer than `settle_after` ago: sent if a provider has them, else queued again. Returns
        how many were found."""
        now = self.clock()
        async with self.stores.transaction() as store:
            stuck = await store.unsettled(now - self.settle_after, now - self.lease, self.instance)
        for row in stuck:
            assert row.claimed_at is not None
            try:
                found = await self.providers.find(
                    outgoing(row, self.profiles), row.claimed_at - LOOK_BACK
                )
            except ProviderError as error:
                log.warning("cannot settle %s yet: %s", row.key, error)
                continue
            async with self.stores.transaction() as platform:
                store = platform.of(row.agency)
                if found is not None:
                    await store.settle(
                        row.key,
                        now,
                        status="sent",
                        provider=found[0],
                        provider_message_id=found[1],
                        reason="settled with the provider after a restart",
                    )
                else:
                    await store.settle(
                        row.key,
                        now,
                        status="queued",
                        reason="not sent before a restart; the provider has no record of it",
                    )
        return len(stuck)

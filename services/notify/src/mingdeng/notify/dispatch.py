"""Dispatch: one due message at a time to the providers, within the per-number limits.

The claim ('sending') is committed before a provider is called: a crash after it leaves the
message for the reconciler, which asks the providers instead of sending again."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from mingdeng.notify.adapters.providers import Outgoing, ProviderChain, ProviderError
from mingdeng.notify.adapters.templates import Profiles
from mingdeng.notify.domain.delivery import Limit, after_rate_limits, backoff
from mingdeng.notify.store import Claimed, Stores
from mingdeng.runtime.agencies import agency_key

log = logging.getLogger(__name__)
# Messages about a task, keyed by it: not sent once the task is done (history loaded after the
# task was made may hold the visit that did it)
ABOUT_A_TASK = frozenset({"commendation_assigned", "commendation_overdue"})


class Dispatcher:
    def __init__(
        self,
        stores: Stores,
        profiles: Profiles,
        providers: ProviderChain,
        limits: Sequence[Limit],
        clock: Callable[[], datetime],
        instance: str,
        max_attempts: int = 8,
    ) -> None:
        self.stores, self.profiles, self.providers = stores, profiles, providers
        self.limits, self.clock, self.max_attempts = limits, clock, max_attempts
        self.instance = instance

    async def dispatch(self) -> bool:
        """Send one due message; False when none is due."""
        now = self.clock()
        async with self.stores.transaction() as store:
            row = await store.claim_next(now, self.instance)
        if row is None:
            return False
        assert row.phone is not None
        async with self.stores.transaction() as platform:
            store = platform.of(row.agency)
            if row.rule in ABOUT_A_TASK:  # a task done meanwhile is no longer news
                task = await store.task(row.key.split("/", 2)[2])  # rule/recipient/task id
                if task is not None and task.status != "open":
                    reason = f"the task is {task.status} already"
                    await store.settle(row.key, now, status="suppressed", reason=reason)
                    return True
            window = max(limit.window for limit in self.limits)
            allowed = after_rate_limits(
                now, await store.sent_to(row.phone, now - window), self.limits
            )
            if allowed > now:  # per-number limit: wait, and do not count this as an attempt
                await store.postpone(row.key, now, allowed, "per-number limit")
                return True
        try:
            provider, message_id = await self.providers.send(outgoing(row, self.profiles))
        except ProviderError as error:
            await self._after_failure(row, error)
            return True
        async with self.stores.transaction() as store:
            await store.of(row.agency).settle(
                row.key,
                self.clock(),
                status="sent",
                provider=provider,
                provider_message_id=message_id,
            )
        return True

    async def _after_failure(self, row: Claimed, error: ProviderError) -> None:
        now = self.clock()
        async with self.stores.transaction() as platform:
            store = platform.of(row.agency)
            if error.kind == "permanent" or (
                error.kind == "transient" and row.attempts >= self.max_attempts
            ):
                log.error("message %s failed: %s", row.key, error)
                await store.settle(row.key, now, status="failed", reason=str(error))
                return
            wait = (
                error.retry_after
                if error.kind == "flow_control" and error.retry_after
                else backoff(row.attempts)
            )
            log.warning("message %s: %s; again in %s", row.key, error, wait)
            await store.settle(
                row.key, now, status="queued", reason=str(error), not_before=now + wait
            )


def outgoing(row: Claimed, profiles: Profiles) -> Outgoing:
    """The message as its agency sends it: its signature and template; keyed at the provider
    as its records are on Kafka (`{agency}/…` but for the default agency)."""
    assert row.phone is not None
    profile = profiles.of(row.agency)
    template = profile.templates[row.rule]
    return Outgoing(
        agency_key(row.agency, row.key).decode(),
        row.phone,
        template,
        row.params,
        template.render(row.params),
        profile.sign_name,
    )

"""Messages into the outbox: rendered from their template, held through the quiet hours unless
urgent, or suppressed with the reason (a recipient not registered, or without a phone; a message
no longer worth sending). The store keeps one message per key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mingdeng.notify.adapters.templates import Profiles
from mingdeng.notify.domain.delivery import QUIET_HOURS, QuietHours, after_quiet_hours
from mingdeng.notify.domain.rules import Message
from mingdeng.notify.domain.state import Recipient
from mingdeng.notify.known import KnownAgencies
from mingdeng.notify.store import NotifyStore, Queued


class Outbox:
    def __init__(
        self,
        known: KnownAgencies,
        profiles: Profiles,
        clock: Callable[[], datetime],
        quiet_hours: QuietHours | None = QUIET_HOURS,
    ) -> None:
        self.known, self.profiles, self.clock, self.quiet_hours = (
            known,
            profiles,
            clock,
            quiet_hours,
        )

    async def enqueue(self, store: NotifyStore, message: Message) -> bool:
        """True when the message is new (its key was not in the agency's outbox). The
        recipient is the store's agency's member of that id."""
        state = self.known.of(store.agency).state
        queued = self.queued(store.agency, message, state.recipient(message.recipient_id))
        return await store.enqueue(queued)

    def queued(self, agency: str, message: Message, recipient: Recipient | None) -> Queued:
        now = self.clock()
        phone = recipient.phone if recipient else None
        reason = None
        if recipient is None:
            reason = "the recipient is not registered"
        elif phone is None:
            reason = "the recipient has no phone number"
        elif message.stale_after is not None and now > message.stale_after:
            reason = f"out of date: relevant until {message.stale_after.isoformat()}"
        return Queued(
            key=message.key,
            rule=message.rule,
            recipient_id=message.recipient_id,
            cause=message.cause,
            phone=phone,
            text=self.profiles.of(agency).templates[message.rule].shown(message.params),
            params=message.params,
            urgent=message.urgent,
            not_before=after_quiet_hours(now, message.urgent, self.quiet_hours),
            status="queued" if reason is None else "suppressed",
            reason=reason,
        )

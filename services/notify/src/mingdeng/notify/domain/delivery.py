"""When a message may go: quiet hours, per-number limits, retries. Pure; the clock is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from mingdeng.contracts.periods import BUSINESS_TZ

QUIET_FROM, QUIET_UNTIL = time(22, 0), time(7, 0)


def after_quiet_hours(moment: datetime, urgent: bool) -> datetime:
    """`moment`, or 07:00 if it falls between 22:00 and 07:00 (business time) and the message is
    not urgent (violation reminders are)."""
    if urgent:
        return moment
    local = moment.astimezone(BUSINESS_TZ)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=BUSINESS_TZ)


@dataclass(frozen=True)
class Limit:
    window: timedelta
    most: int


def after_rate_limits(now: datetime, sent: Sequence[datetime], limits: Sequence[Limit]) -> datetime:
    """The earliest moment from `now` at which one more message to this number keeps within every
    limit, given when earlier messages to it were sent."""
    allowed = now
    for limit in limits:
        recent = sorted(t for t in sent if t > now - limit.window)
        if len(recent) >= limit.most:
            allowed = max(allowed, recent[-limit.most] + limit.window)
    return allowed


def backoff(
    attempts: int, base: timedelta = timedelta(seconds=30), cap: timedelta = timedelta(hours=1)
) -> timedelta:
    """Wait before retry number `attempts` (1, 2, …) after a transient error: 30 s, 60 s, … ≤ 1 h."""
    return min(cap, base * (1 << max(0, attempts - 1)))

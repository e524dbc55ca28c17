"""When a message may go: quiet hours, per-number limits, retries. Pure; the clock is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from mingdeng.contracts.periods import BUSINESS_TZ

QuietHours = tuple[time, time]  # from, until (business time); the window may pass midnight
QUIET_HOURS: QuietHours = (time(22, 0), time(7, 0))


def after_quiet_hours(
    moment: datetime, urgent: bool, quiet: QuietHours | None = QUIET_HOURS
) -> datetime:
    """`moment`, or the end of the quiet hours (07:00) if it falls in them (22:00 to 07:00,
    business time) and the message is not urgent (violation reminders are)."""
    if urgent or quiet is None:
        return moment
    start, end = quiet
    local = moment.astimezone(BUSINESS_TZ)
    now = local.time()
    inside = (start <= now or now < end) if start > end else (start <= now < end)
    if not inside:
        return moment
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=BUSINESS_TZ)


def parse_quiet_hours(text: str) -> QuietHours | None:
    """`22:00-07:00`; empty for none."""
    if not text.strip():
        return None
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    return start, end


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

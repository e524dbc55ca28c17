"""When a quarter may be closed (docs/api.md "Closing a quarter"). A close is early when its
`time`, or the moment it is offered, lies before the quarter's end. An early close needs the
CloudEvents extension attribute `earlyclose`, whose value is the reason, recorded on the event;
without it the gateway refuses the event (422) and scoring refuses it (status `rejected`).
Scoring can judge the event's `time` only (a replay must decide alike); the moment of arrival
is the gateway's to judge."""

from __future__ import annotations

from datetime import datetime

from mingdeng.contracts.envelope import Event
from mingdeng.contracts.errors import FieldError, InvalidEvent
from mingdeng.contracts.events import EventData, QuarterClosed
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter

EARLY_CLOSE = "earlyclose"


def early_close_reason(event: Event[EventData]) -> str | None:
    """The reason given for closing before the quarter's end, if the event gives one."""
    value = event.extensions.get(EARLY_CLOSE)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def check_close(event: Event[EventData], now: datetime) -> None:
    """Raises InvalidEvent for a close of a quarter that has not ended (at the event's `time`
    or at `now`) and gives no reason in `earlyclose`; other events pass."""
    if not isinstance(event.data, QuarterClosed):
        return
    if EARLY_CLOSE in event.extensions and early_close_reason(event) is None:
        raise InvalidEvent.single(
            EARLY_CLOSE, "the reason for closing before the quarter's end, a non-empty string"
        )
    quarter = Quarter.parse(event.data.quarter)
    if min(event.time, now) >= quarter.end or early_close_reason(event) is not None:
        return
    ends = quarter.end.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    raise InvalidEvent(
        [
            FieldError(
                "time",
                f"{quarter} has not ended: it ends {ends} (Asia/Shanghai), and this close's"
                " time or the moment it is sent is earlier",
            ),
            FieldError(
                EARLY_CLOSE,
                "closing before the quarter's end needs this extension attribute with the"
                " reason, recorded on the event",
            ),
        ]
    )

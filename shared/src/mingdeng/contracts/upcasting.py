"""Schema evolution: older versions of an event type are upcast to the newest on read.

Kafka keeps what the publisher sent; every reader sees only the newest version of a type.
"""

from __future__ import annotations

from collections.abc import Callable

from mingdeng.contracts.events import (
    EventData,
    TalkHeld,
    TalkHeldV1,
    VolunteerLogged,
    VolunteerLoggedV1,
)


def _volunteer_v1_to_v2(old: VolunteerLoggedV1) -> VolunteerLogged:
    extra = dict(old.model_extra or {})
    return VolunteerLogged(
        activity_id=old.activity_id,
        member_id=old.member_id,
        minutes=max(1, round(old.hours * 60)),
        title=old.title,
        **extra,
    )


def _talk_v1_to_v2(old: TalkHeldV1) -> TalkHeld:
    extra = {k: v for k, v in (old.model_extra or {}).items() if k != "note"}
    return TalkHeld(
        talk_id=old.talk_id,
        host_id=old.host_id,
        member_id=old.member_id,
        category=old.category,
        reason=old.reason,
        **extra,  # a v1 field named note was never the host's note: v2 gives it a meaning
    )


UPCASTERS: dict[type[EventData], Callable[[EventData], EventData]] = {
    VolunteerLoggedV1: _volunteer_v1_to_v2,  # type: ignore[dict-item]
    TalkHeldV1: _talk_v1_to_v2,  # type: ignore[dict-item]
}


def upcast(data: EventData) -> EventData:
    while (step := UPCASTERS.get(type(data))) is not None:
        data = step(data)
    return data


def is_latest(payload_type: type[EventData]) -> bool:
    return payload_type not in UPCASTERS

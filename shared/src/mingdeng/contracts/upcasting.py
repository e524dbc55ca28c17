"""Schema evolution: older versions of an event type are upcast to the newest on read.

Kafka keeps what the publisher sent; every reader sees only the newest version of a type.
"""

from __future__ import annotations

from collections.abc import Callable

from mingdeng.contracts.events import EventData, VolunteerLogged, VolunteerLoggedV1


def _volunteer_v1_to_v2(old: VolunteerLoggedV1) -> VolunteerLogged:
    extra = dict(old.model_extra or {})
    return VolunteerLogged(
        activity_id=old.activity_id,
        member_id=old.member_id,
        minutes=max(1, round(old.hours * 60)),
        title=old.title,
        **extra,
    )


UPCASTERS: dict[type[EventData], Callable[[EventData], EventData]] = {
    VolunteerLoggedV1: _volunteer_v1_to_v2,  # type: ignore[dict-item]
}


def upcast(data: EventData) -> EventData:
    while (step := UPCASTERS.get(type(data))) is not None:
        data = step(data)
    return data


def is_latest(payload_type: type[EventData]) -> bool:
    return payload_type not in UPCASTERS

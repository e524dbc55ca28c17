"""What a person does on a page becomes a CloudEvent, published through the same ingestion
path as POST /v1/events (EventPublisher.accept: claimed, published in a transaction, the same
duplicate and conflict rules). It is of the session's agency, and its `source` is `/dashboard`
for the default agency, `/agencies/{agency}/dashboard` for any other (`source_of`: the only
sources that may publish for it, docs/events.md); who did it is the extension attribute `actor`
(the member id of the session), with `actorrole` (the role they acted in)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request

from mingdeng.contracts.agency import AGENCY_SOURCES, DEFAULT_AGENCY
from mingdeng.contracts.closing import check_close
from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData
from mingdeng.gateway.adapters.agency_schemas import current_agency
from mingdeng.gateway.adapters.ingestion import Accepted, EventPublisher
from mingdeng.gateway.domain.access import Principal

SOURCE = "/dashboard"


def source_of(agency: str) -> str:
    """The dashboard's source for the events of `agency`."""
    return SOURCE if agency == DEFAULT_AGENCY else f"{AGENCY_SOURCES}{agency}{SOURCE}"


def source_here() -> str:
    """The dashboard's source for the request's agency."""
    return source_of(current_agency.get() or DEFAULT_AGENCY)


def dashboard_event(
    data: EventData, event_id: str, actor: Principal, time: datetime | None = None
) -> Event[EventData]:
    """The event of an action by `actor`; `time` when it happened (now by default)."""
    return Event(
        agency=actor.agency,
        id=event_id,
        source=source_of(actor.agency),
        type=data.event_type,
        subject=data.subject,
        time=time or datetime.now(UTC),
        data=data,
        extensions={"actor": actor.subject, "actorrole": actor.role},
    )


async def publish(request: Request, events: list[Event[EventData]]) -> Accepted:
    """Publish all of `events` or none; raises the publisher's Conflict or Unavailable, and
    InvalidEvent for what POST /v1/events refuses beyond the contracts (an early close)."""
    now = datetime.now(UTC)
    for event in events:
        check_close(event, now)
    publisher: EventPublisher = request.app.state.publisher
    payloads = [serialize_event(event) for event in events]
    return await publisher.accept(request.app.state.pool, events, payloads)

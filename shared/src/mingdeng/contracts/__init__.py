"""Mingdeng event contracts: what upstream systems publish and what the services exchange."""

from mingdeng.contracts.codec import new_event, parse_event, serialize_event
from mingdeng.contracts.envelope import Envelope, Event
from mingdeng.contracts.errors import FieldError, InvalidEvent
from mingdeng.contracts.events import PAYLOAD_BY_TYPE, EventData
from mingdeng.contracts.periods import BUSINESS_TZ, Quarter

__all__ = [
    "BUSINESS_TZ",
    "PAYLOAD_BY_TYPE",
    "Envelope",
    "Event",
    "EventData",
    "FieldError",
    "InvalidEvent",
    "Quarter",
    "new_event",
    "parse_event",
    "serialize_event",
]

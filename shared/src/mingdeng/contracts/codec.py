"""One way in and one way out: bytes from Kafka or HTTP to a typed event, and back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import ValidationError

from mingdeng.contracts.envelope import MAX_CLOCK_LEAD, Envelope, Event
from mingdeng.contracts.errors import FieldError, InvalidEvent
from mingdeng.contracts.events import PAYLOAD_BY_TYPE, EventData
from mingdeng.contracts.upcasting import upcast

D = TypeVar("D", bound=EventData)


def parse_event(
    raw: object,
    *,
    now: datetime | None = None,
    latest: bool = True,
) -> Event[EventData]:
    """Validate a CloudEvent (bytes, text or a decoded JSON value) and read its `data` by `type`.

    With `latest`, an older version of a type is upcast to the newest one, so consumers handle
    one version per type. Raises InvalidEvent, with a reason per field, and nothing else.
    """
    document = _as_document(raw)
    if (where := _nul_in(document)) is not None:
        raise InvalidEvent.single(where or "(event)", "NUL characters are not allowed")
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as error:
        raise InvalidEvent.from_validation(error) from None

    payload_type = PAYLOAD_BY_TYPE.get(envelope.type)
    if payload_type is None:
        raise InvalidEvent.single("type", f"unknown event type {envelope.type!r}")
    errors: list[FieldError] = []
    now = now or datetime.now(UTC)
    if envelope.time > now + MAX_CLOCK_LEAD:
        errors.append(FieldError("time", "more than 24 hours ahead of now"))
    try:
        data = payload_type.model_validate(envelope.data)
    except ValidationError as error:
        raise InvalidEvent(errors + InvalidEvent.from_validation(error, "data").errors) from None
    if data.subject != envelope.subject:
        errors.append(
            FieldError(
                "subject",
                f"must equal data.{data.subject_field} ({data.subject!r}) for {envelope.type}",
            )
        )
    if errors:
        raise InvalidEvent(errors)

    if latest:
        data = upcast(data)
    return Event(
        id=envelope.id,
        source=envelope.source,
        type=data.event_type,
        subject=envelope.subject,
        time=envelope.time,
        data=data,
        extensions=MappingProxyType(dict(envelope.model_extra or {})),
    )


def serialize_event(event: Event[EventData]) -> bytes:
    return json.dumps(event.to_cloudevent(), ensure_ascii=False, separators=(",", ":")).encode()


def new_event(
    data: D,
    *,
    source: str,
    time: datetime | None = None,
    event_id: str | None = None,
) -> Event[D]:
    """Build an event as a publisher would; the subject follows from the payload."""
    return Event(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        subject=data.subject,
        time=time or datetime.now(UTC),
        data=data,
    )


def _as_document(raw: object) -> Any:
    if isinstance(raw, Mapping):
        return raw
    if not isinstance(raw, bytes | bytearray | str):
        raise InvalidEvent.single("(event)", "a CloudEvent is a JSON object")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent.single("(event)", f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidEvent.single("(event)", "a CloudEvent is a JSON object")
    return document


def _nul_in(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string holding a NUL character (storage refuses them)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            if (found := _nul_in(item, inner)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _nul_in(item, f"{path}.{index}" if path else str(index))) is not None:
                return found
    return None

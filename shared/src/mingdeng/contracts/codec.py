"""One way in and one way out: bytes from Kafka or HTTP to a typed event, and back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import to_json

from mingdeng.contracts.envelope import MAX_CLOCK_LEAD, Envelope, Event
from mingdeng.contracts.errors import FieldError, InvalidEvent
from mingdeng.contracts.events import PAYLOAD_BY_TYPE, EventData
from mingdeng.contracts.upcasting import upcast

D = TypeVar("D", bound=EventData)

# What any reader accepts (docs/events.md names them): beyond these a record is refused with a
# reason, never met with a ValueError or RecursionError from deep inside the JSON parser.
MAX_EVENT_BYTES = 256 * 1024  # one serialized event
MAX_DEPTH = 32  # nesting of objects and arrays, the event itself being level 1
MAX_NUMBER_DIGITS = 100  # characters of one JSON number


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
    # in JSON text a NUL can only be written `\u0000`: text without that has none to look for
    if isinstance(raw, str):
        may_hold_nul = "\\u0000" in raw
    elif isinstance(raw, bytes | bytearray):
        may_hold_nul = b"\\u0000" in raw
    else:
        may_hold_nul = True
    return parse_document(document, now=now, latest=latest, may_hold_nul=may_hold_nul)


def parse_document(
    document: Mapping[str, Any],
    *,
    now: datetime | None = None,
    latest: bool = True,
    may_hold_nul: bool = True,
) -> Event[EventData]:
    """`parse_event` for a JSON object that `decode_json` returned (its shape checked there).
    `may_hold_nul=False`: its text held no `\\u0000`, so no string in it holds a NUL."""
    if may_hold_nul and (where := _nul_in(document)) is not None:
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
    """Compact UTF-8 JSON; pydantic's serializer writes it a third of the time json.dumps takes."""
    return to_json({**event.attributes(), "data": event.data}, exclude_none=True)


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


def decode_json(
    raw: bytes | bytearray | str, max_bytes: int = MAX_EVENT_BYTES, max_depth: int = MAX_DEPTH
) -> Any:
    """JSON text to Python values within the limits above; InvalidEvent for anything else."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise InvalidEvent.single("(event)", f"{size} bytes is more than the limit of {max_bytes}")
    try:
        document = json.loads(
            raw, parse_int=_bounded_int, parse_float=_bounded_float, parse_constant=_no_constant
        )
    except RecursionError:
        raise InvalidEvent.single("(event)", f"nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidEvent.single("(event)", f"not JSON: {error}") from None
    # numbers were bounded while parsing; the depth needs a walk only with enough brackets
    if isinstance(raw, str):
        brackets = raw.count("[") + raw.count("{")
    else:
        brackets = raw.count(b"[") + raw.count(b"{")
    if brackets > max_depth:
        check_depth(document, max_depth)
    return document


def check_depth(document: object, max_depth: int) -> None:
    """Refuse a decoded JSON value nested deeper than `max_depth`, walked level by level."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(max_depth):
        level = [
            item
            for container in level
            for item in (container.values() if isinstance(container, dict) else container)
            if isinstance(item, dict | list)
        ]
        if not level:
            return
    raise InvalidEvent.single("(event)", f"nested deeper than {max_depth} levels")


def check_shape(document: object, max_depth: int = MAX_DEPTH) -> None:
    """Refuse values nested deeper than `max_depth` or numbers beyond the limit (walked without
    recursion)."""
    largest = MAX_NUMBER_DIGITS * 4  # bits

    def too_large(value: object) -> bool:
        return isinstance(value, int) and value.bit_length() > largest

    if not isinstance(document, Mapping | list):
        if too_large(document):
            raise InvalidEvent.single("(event)", "a number is too large")
        return
    stack: list[tuple[Mapping[Any, Any] | list[Any], int]] = [(document, 1)]  # containers only
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise InvalidEvent.single("(event)", f"nested deeper than {max_depth} levels")
        for item in container.values() if isinstance(container, Mapping) else container:
            if isinstance(item, Mapping | list):
                stack.append((item, depth + 1))
            elif too_large(item):
                raise InvalidEvent.single("(event)", "a number is too large")


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _TooLarge(text)
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _TooLarge(text)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _TooLarge(text)
    return value


def _no_constant(text: str) -> float:
    raise json.JSONDecodeError(f"{text} is not a JSON number", text, 0)


class _TooLarge(json.JSONDecodeError):
    def __init__(self, text: str) -> None:
        super().__init__(
            f"a number of {len(text)} characters (more than {MAX_NUMBER_DIGITS}) or out of range",
            text[:20],
            0,
        )


def _as_document(raw: object) -> Any:
    if isinstance(raw, Mapping):
        check_shape(raw)
        return raw
    if not isinstance(raw, bytes | bytearray | str):
        raise InvalidEvent.single("(event)", "a CloudEvent is a JSON object")
    document = decode_json(raw)
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

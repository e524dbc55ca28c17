"""One way in and one way out: bytes from Kafka or HTTP to a typed event, and back.

The CloudEvents bindings (docs/events.md): over HTTP and Kafka an event comes in structured
mode (the whole event as JSON) or in binary mode (its attributes in `ce-`/`ce_` headers, its
`data` as the body or the record's value). Both become the same structured document, checked
by `parse_document`, so the reasons for a refusal are the same in every mode.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeGuard, TypeVar

from pydantic import ValidationError
from pydantic_core import to_json

from mingdeng.contracts.agency import (
    AGENCY_ATTRIBUTE,
    DEFAULT_AGENCY,
    PARTITION_KEY_ATTRIBUTE,
    agency_id_problem,
    publishing_refusal,
)
from mingdeng.contracts.envelope import MAX_CLOCK_LEAD, Envelope, Event
from mingdeng.contracts.errors import FieldError, InvalidEvent
from mingdeng.contracts.events import PAYLOAD_BY_TYPE, AgencyRegistered, EventData
from mingdeng.contracts.text import may_hold_unstorable, unstorable
from mingdeng.contracts.upcasting import upcast

D = TypeVar("D", bound=EventData)

# What any reader accepts (docs/events.md names them): beyond these a record is refused with a
# reason, never met with a ValueError or RecursionError from deep inside the JSON parser.
MAX_EVENT_BYTES = 256 * 1024  # one serialized event
MAX_DEPTH = 32  # nesting of objects and arrays, the event itself being level 1
MAX_NUMBER_DIGITS = 100  # characters of one JSON number
MAX_ID_CHARS = 128  # an event's id and type (the envelope's limits)
MAX_SOURCE_CHARS = 512

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
JSON = "application/json"
KafkaHeader = tuple[str, bytes]
KAFKA_PREFIX = "ce_"
HTTP_PREFIX = "ce-"
CONTENT_TYPE = "content-type"
# what a binary-mode header cannot carry: the binding maps these two elsewhere
_NOT_HEADERS = {
    "data": "the data is the body",
    "datacontenttype": "the data's type is the Content-Type",
}


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
    checked = isinstance(raw, bytes | bytearray | str) and not may_hold_unstorable(raw)
    return parse_document(document, now=now, latest=latest, may_hold_unstorable=not checked)


def parse_document(
    document: Mapping[str, Any],
    *,
    now: datetime | None = None,
    latest: bool = True,
    may_hold_unstorable: bool = True,
) -> Event[EventData]:
    """`parse_event` for a JSON object that `decode_json` returned (its shape checked there).
    `may_hold_unstorable=False`: its text could not decode to a NUL or a lone surrogate
    (`text.may_hold_unstorable`), so no walk looks for them."""
    if may_hold_unstorable and (found := _unstorable_in(document)) is not None:
        where, why = found
        raise InvalidEvent.single(where or "(event)", why)
    try:
        envelope = Envelope.model_validate(document)
    except ValidationError as error:
        raise InvalidEvent.from_validation(error) from None

    payload_type = PAYLOAD_BY_TYPE.get(envelope.type)
    if payload_type is None:
        raise InvalidEvent.single("type", f"unknown event type {envelope.type!r}")
    extensions = dict(envelope.model_extra or {})
    agency, errors = _agency_of(envelope.source, envelope.subject, extensions)
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
    if isinstance(data, AgencyRegistered) and data.agency_id != agency:
        errors.append(
            FieldError(
                AGENCY_ATTRIBUTE,
                f"must be data.agency_id ({data.agency_id!r}): an agency's registration "
                "belongs to the agency it registers",
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
        extensions=MappingProxyType(extensions),
        agency=agency,
    )


def _agency_of(
    source: str, subject: str, extensions: dict[str, Any]
) -> tuple[str, list[FieldError]]:
    """The event's agency, taken out of its extensions with its partition key (which must
    be the agency; for the default agency also its subject, the keying before agencies, then
    kept as an extension), and the reasons it may not be published so (contracts.agency)."""
    agency = extensions.pop(AGENCY_ATTRIBUTE, DEFAULT_AGENCY)
    if (problem := agency_id_problem(agency)) is not None:
        return DEFAULT_AGENCY, [FieldError(AGENCY_ATTRIBUTE, problem)]
    partition_key = extensions.get(PARTITION_KEY_ATTRIBUTE, agency)
    if not (agency == DEFAULT_AGENCY and partition_key == subject):
        extensions.pop(PARTITION_KEY_ATTRIBUTE, None)
    errors = []
    if partition_key not in (agency, subject if agency == DEFAULT_AGENCY else agency):
        errors.append(
            FieldError(
                PARTITION_KEY_ATTRIBUTE,
                f"must be the agency {agency!r}: an agency's events share one partition key",
            )
        )
    if (refusal := publishing_refusal(source, agency)) is not None:
        errors.append(FieldError(AGENCY_ATTRIBUTE, refusal))
    return agency, errors


def parse_record(
    value: bytes | None,
    headers: Sequence[KafkaHeader],
    key: bytes | None,
    *,
    now: datetime | None = None,
    latest: bool = True,
) -> Event[EventData]:
    """An inbound Kafka record, in either mode, whose key must be its agency (or, for the
    default agency, its subject, as records were keyed before agencies): the one parse of
    every reader of the inbound topic. Raises InvalidEvent, and nothing else."""
    event = parse_kafka_event(value, headers, now=now, latest=latest)
    if key == event.partition_key.encode():
        return event
    shown = "no key" if key is None else f"the key {key.decode(errors='replace')!r}"
    if not event.of_default_agency:
        raise InvalidEvent.single(
            "(key)",
            f"{shown} is not the agency {event.agency!r}: a record is keyed by its agency, "
            "so that an agency's events stay in order in one partition",
        )
    if key != event.subject.encode():
        raise InvalidEvent.single(
            "(key)",
            f"{shown} is not the subject {event.subject!r} nor the agency {event.agency!r}: a "
            "record is keyed by its agency (one of the default agency also by its subject, as "
            "before agencies), so that the events about one agency or subject stay in order",
        )
    return event


def parse_kafka_event(
    value: bytes | None,
    headers: Sequence[KafkaHeader] = (),
    *,
    now: datetime | None = None,
    latest: bool = True,
) -> Event[EventData]:
    """A CloudEvent from a Kafka record, as the Kafka protocol binding defines it: binary mode
    when a `ce_` header is there, else structured mode (a `content-type` header of
    application/cloudevents+json, or none). The key is not looked at (see `parse_record`)."""
    binary = kafka_binary_attributes(headers)
    if binary is not None:
        attributes, content_type = binary
        document = binary_document(attributes, content_type, value or b"", "Kafka binary mode")
        return parse_document(document, now=now, latest=latest)
    content_type = kafka_content_type(headers)
    if content_type is not None:
        media = media_type(content_type)
        if media == BATCH:
            raise InvalidEvent.single(
                "(record)", "Kafka has no batch mode: one CloudEvent per record"
            )
        if media not in (STRUCTURED, JSON):
            raise InvalidEvent.single(
                "(record)",
                f"Kafka structured mode: content-type {media!r} is not {STRUCTURED}, and no "
                "ce_ header makes it binary mode",
            )
    return parse_event(value or b"", now=now, latest=latest)


def kafka_binary_attributes(
    headers: Sequence[KafkaHeader],
) -> tuple[dict[str, str], str | None] | None:
    """The attributes of a binary-mode record (its `ce_` headers) and its content-type; None
    for a record in structured mode (no `ce_` header)."""
    attributes: dict[str, str] = {}
    content_type = None
    for name, raw in headers:
        lowered = name.lower()
        if lowered.startswith(KAFKA_PREFIX):
            try:
                attributes[lowered[len(KAFKA_PREFIX) :]] = raw.decode()
            except UnicodeDecodeError:
                raise InvalidEvent.single(
                    lowered[len(KAFKA_PREFIX) :] or "(record)",
                    f"Kafka binary mode: the header {name!r} is not UTF-8 text",
                ) from None
        elif lowered == CONTENT_TYPE:
            content_type = raw.decode(errors="replace")
    if not attributes:
        return None
    return attributes, content_type


def record_agency(value: bytes | None, headers: Sequence[KafkaHeader] = ()) -> str:
    """The agency an inbound record says it belongs to, without validating it: its `ce_agency`
    header in binary mode, else the top-level `agency` of its JSON value; the default agency
    when neither names one (as `parse_record` would decide for a valid record)."""
    binary_header = f"{KAFKA_PREFIX}{AGENCY_ATTRIBUTE}"
    for name, raw in headers:
        if name.lower() == binary_header:
            return raw.decode(errors="replace")
    if not value or f'"{AGENCY_ATTRIBUTE}"'.encode() not in value:
        return DEFAULT_AGENCY
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return DEFAULT_AGENCY
    found = document.get(AGENCY_ATTRIBUTE) if isinstance(document, dict) else None
    return found if isinstance(found, str) else DEFAULT_AGENCY


def kafka_content_type(headers: Sequence[KafkaHeader]) -> str | None:
    for name, raw in headers:
        if name.lower() == CONTENT_TYPE:
            return raw.decode(errors="replace")
    return None


def record_identity(
    value: bytes | None, headers: Sequence[KafkaHeader] = ()
) -> tuple[str, str, str | None] | None:
    """(source, id, type) of an inbound record that failed validation, when it says who sent
    it: from its `ce_` headers in binary mode, else from its JSON value."""
    try:
        binary = kafka_binary_attributes(headers)
    except InvalidEvent:
        return None
    if binary is not None:
        document: Any = binary[0]
    else:
        try:
            document = json.loads(value or b"")
        except (ValueError, RecursionError):
            return None
        if not isinstance(document, dict):
            return None
    source, event_id, kind = document.get("source"), document.get("id"), document.get("type")
    if not _identifies(source, MAX_SOURCE_CHARS) or not _identifies(event_id, MAX_ID_CHARS):
        return None  # no client could ask for its status by these: no status is written
    return source, event_id, kind if _identifies(kind, MAX_ID_CHARS) else None


def _identifies(value: object, limit: int) -> TypeGuard[str]:
    """A string that can name an event in a status key: within the envelope's length, text
    that encodes (no lone surrogate) and stores (no NUL)."""
    return isinstance(value, str) and 0 < len(value) <= limit and unstorable(value) is None


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`; "" when there is none."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def binary_document(
    attributes: Mapping[str, str], content_type: str | None, body: bytes, mode: str
) -> dict[str, Any]:
    """A binary-mode event as the structured document it stands for: its attributes (from the
    headers, prefix removed, already decoded), its `data` read from the body, whose type is
    the content type (application/json when none is given). `mode` names the binding in the
    reasons of what it cannot carry."""
    for name, why in _NOT_HEADERS.items():
        if name in attributes:
            raise InvalidEvent.single(name, f"{mode}: not an attribute header ({why})")
    media = media_type(content_type) or JSON
    if media != JSON:
        raise InvalidEvent.single(
            "datacontenttype",
            f"{mode}: the data must be {JSON}, not {media!r} (the content type of the body)",
        )
    try:
        data = decode_json(body, MAX_EVENT_BYTES, MAX_DEPTH - 1)
    except InvalidEvent as error:
        reason = error.errors[0].message
        raise InvalidEvent.single(
            "data", f"{mode}: the body is the event's data: {reason}"
        ) from None
    return {**attributes, "datacontenttype": media, "data": data}


def serialize_event(event: Event[EventData]) -> bytes:
    """Compact UTF-8 JSON; pydantic's serializer writes it a third of the time json.dumps takes."""
    return to_json({**event.attributes(), "data": event.data}, exclude_none=True)


def new_event(
    data: D,
    *,
    source: str,
    time: datetime | None = None,
    event_id: str | None = None,
    agency: str = DEFAULT_AGENCY,
) -> Event[D]:
    """Build an event as a publisher would; the subject follows from the payload."""
    return Event(
        agency=agency,
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


def _unstorable_in(value: Any, path: str = "") -> tuple[str, str] | None:
    """The dotted path of the first string (or key) that cannot be stored or encoded, and why
    (`text.unstorable`: a NUL, a lone surrogate). The depth is bounded by the parse."""
    if isinstance(value, str):
        why = unstorable(value)
        return None if why is None else (path, why)
    if isinstance(value, Mapping):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if (why := unstorable(str(key))) is not None:
                return inner, f"a name holds {why.split(' are ')[0]}, which are not allowed"
            if (found := _unstorable_in(item, inner)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_in(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None

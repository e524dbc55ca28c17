from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from mingdeng.contracts import text
from mingdeng.contracts.agency import AGENCY_ATTRIBUTE
from mingdeng.contracts.closing import check_close
from mingdeng.contracts.codec import (
    BATCH,
    HTTP_PREFIX,
    JSON,
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    MAX_ID_CHARS,
    STRUCTURED,
    binary_document,
    check_depth,
    decode_json,
    media_type,
    parse_document,
    serialize_event,
)
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.gateway.adapters import repository
from mingdeng.gateway.adapters.ingestion import Conflict, EventPublisher, Unavailable
from mingdeng.gateway.entrypoints.deps import Connection, Publisher, publisher_of
from mingdeng.gateway.entrypoints.problems import Problem, problems

router = APIRouter(prefix="/v1/events", tags=["events"])

Mode = Literal["structured", "batch", "binary"]
MODES = (
    f"structured mode ({STRUCTURED}, or {JSON}), batch mode ({BATCH}), or binary mode "
    f"({HTTP_PREFIX}* headers, the data as {JSON})"
)
# Valid, and plainly not real data: a fuzzer or a curious reader may send it as it is.
EXAMPLE = {
    "specversion": "1.0",
    "id": "example-0001",
    "source": "/systems/example",
    "type": "mingdeng.lecture.attended.v1",
    "subject": "example-member-0001",
    "time": "2026-11-15T15:00:00+08:00",
    "datacontenttype": "application/json",
    "data": {"lecture_id": "example-lecture-0001", "member_id": "example-member-0001"},
}


class AcceptedEvents(BaseModel):
    accepted: list[str]
    duplicates: list[str]


class EventState(BaseModel):
    source: str
    id: str
    status: str
    type: str | None = None
    detail: str | None = None
    reasons: list[dict[str, str]] = []
    late_for: str | None = None


@router.post(
    "",
    status_code=202,
    response_model=AcceptedEvents,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/cloudevents+json": {"schema": {"type": "object"}, "example": EXAMPLE},
                BATCH: {
                    "schema": {"type": "array", "items": {"type": "object"}},
                    "example": [EXAMPLE],
                },
            },
        }
    },
    responses=problems(401, 403, 408, 409, 413, 415, 422, 429, 503),
)
async def post_events(
    request: Request,
    publisher: Publisher,
    kafka: Annotated[EventPublisher, Depends(publisher_of)],
) -> AcceptedEvents:
    """Publish one CloudEvent or a batch: all valid, or nothing is published."""
    limit = request.app.state.settings.max_body_bytes
    mode = _mode(request)
    body = await _body(request, limit)
    if mode == "binary":
        batch, may_hold_unstorable = [_binary_event(request, body)], True
    else:
        batch = _structured_events(body, limit, mode)
        may_hold_unstorable = text.may_hold_unstorable(body)
    if not batch:
        raise Problem(422, "Invalid events", "the batch is empty")
    most = request.app.state.settings.max_batch_events
    if len(batch) > most:
        raise Problem(413, "Batch too large", f"{len(batch)} events; at most {most} in one request")

    events, payloads, invalid = [], [], []
    first_of: dict[tuple[str, str], tuple[int, bytes]] = {}  # key: its first index, its bytes
    now = datetime.now(UTC)
    for index, item in enumerate(batch):
        try:
            if not isinstance(item, dict):
                raise InvalidEvent.single("(event)", "a CloudEvent is a JSON object")
            event = parse_document(item, latest=False, may_hold_unstorable=may_hold_unstorable)
            check_close(event, now)
            payload = serialize_event(event)  # the bytes published, serialised once
            if len(payload) > MAX_EVENT_BYTES:
                raise InvalidEvent.single(
                    "(event)", f"{len(payload)} bytes is more than the limit of {MAX_EVENT_BYTES}"
                )
        except InvalidEvent as error:
            event_id = _shown(item.get("id")) if isinstance(item, dict) else None
            invalid.append({"index": index, "id": event_id, "reasons": error.as_dicts()})
            continue
        if event.key in first_of:  # the same event twice: once; another content: refused
            first, first_payload = first_of[event.key]
            if payload != first_payload:
                invalid.append(_same_key_twice(index, event.id, first))
            continue
        first_of[event.key] = (index, payload)
        events.append(event)
        payloads.append(payload)
    if invalid:
        raise Problem(
            422,
            "Invalid events",
            f"{len(invalid)} of {len(batch)} events are invalid; nothing was published",
            events=invalid,
        )
    if publisher.role == "publisher":
        foreign = sorted({e.source for e in events if e.source != publisher.source})
        if foreign:
            raise Problem(
                403,
                "Forbidden",
                f"this token publishes for {publisher.source} only, not {', '.join(foreign)}",
            )
        other_agency = [
            {
                "index": index,
                "id": event.id,
                "reasons": [
                    {
                        "field": AGENCY_ATTRIBUTE,
                        "message": f"this token publishes for the agency {publisher.agency!r} "
                        f"only, not {event.agency!r}",
                    }
                ],
            }
            for index, event in enumerate(events)
            if event.agency != publisher.agency
        ]
        if other_agency:
            raise Problem(
                422,
                "Invalid events",
                f"{len(other_agency)} of {len(batch)} events are of another agency than the "
                "token's; nothing was published",
                events=other_agency,
            )
    request.app.state.rate_limiter.take(publisher.subject, len(events))
    try:
        result = await kafka.accept(request.app.state.pool, events, payloads)
    except Conflict as conflict:
        raise Problem(
            409,
            "Conflicting events",
            "these ids were accepted before with another content; an event is immutable: "
            "send a correction under a new id. Nothing was published",
            ids=conflict.ids,
        ) from None
    except Unavailable as away:
        raise Problem(
            503,
            f"{away.dependency} unavailable",
            f"nothing was published ({away.detail}); send the same events again",
            away.retry_after_s,
        ) from None
    return AcceptedEvents(accepted=result.accepted, duplicates=result.duplicates)


def _same_key_twice(index: int, event_id: str, first: int) -> dict[str, Any]:
    """The refusal of an event whose (source, id) came earlier in the batch with another
    content: 422 like any invalid event (the batch contradicts itself, whatever the ledger
    holds; docs/api.md)."""
    reason = (
        f"the same source and id as event {first} of this batch, with another content: an "
        "event is immutable; send a correction under a new id"
    )
    reasons = [{"field": "id", "message": reason}]
    return {"index": index, "id": event_id, "same_as": first, "reasons": reasons}


def _mode(request: Request) -> Mode:
    """The CloudEvents HTTP binding's mode of a request (415 for a media type it is not):
    a media type of application/cloudevents… says structured or batch mode; otherwise
    `ce-` headers say binary mode, and plain JSON without them is taken as structured."""
    media = media_type(request.headers.get("content-type"))
    if media == STRUCTURED:
        return "structured"
    if media == BATCH:
        return "batch"
    if not media.startswith("application/cloudevents") and any(
        name.startswith(HTTP_PREFIX) for name in request.headers
    ):
        return "binary"
    if media in (JSON, ""):
        return "structured"
    raise Problem(415, "Unsupported media type", f"{media!r} is not taken here; send {MODES}")


def _structured_events(body: bytes, limit: int, mode: Mode) -> list[Any]:
    """The events of a structured-mode or batch-mode body (a JSON array is a batch)."""
    try:
        # a batch is one level more than its events
        document = decode_json(body, limit, MAX_DEPTH + 1)
        if isinstance(document, dict):
            check_depth(document, MAX_DEPTH)
    except InvalidEvent as error:
        raise Problem(422, "Invalid events", f"the body is refused: {error}") from None
    if mode == "batch" and not isinstance(document, list):
        raise Problem(422, "Invalid events", "a batch is a JSON array of CloudEvents")
    return document if isinstance(document, list) else [document]


def _binary_event(request: Request, body: bytes) -> Any:
    """A binary-mode event as its structured document: the attributes are the `ce-` headers
    (percent-decoded, as the binding encodes them), the data is the body."""
    attributes: dict[str, str] = {}
    try:
        for name, value in request.headers.raw:
            if name.startswith(HTTP_PREFIX.encode()):
                attribute = name.decode("ascii").removeprefix(HTTP_PREFIX)
                attributes[attribute] = _header_text(attribute, value)
        return binary_document(
            attributes, request.headers.get("content-type"), body, "HTTP binary mode"
        )
    except InvalidEvent as error:
        raise Problem(
            422,
            "Invalid events",
            "1 of 1 events is invalid; nothing was published",
            events=[{"index": 0, "id": _shown(attributes.get("id")), "reasons": error.as_dicts()}],
        ) from None


def _header_text(attribute: str, value: bytes) -> str:
    """A header's value as the binding reads it: percent-decoded bytes that must be UTF-8
    (a sequence that is not, such as a lone surrogate's `%ED%A0%80`, is refused, never
    replaced). Bytes above ASCII sent as they are count as UTF-8 too, not as latin-1."""
    try:
        return unquote_to_bytes(value).decode()
    except UnicodeDecodeError as error:
        raise InvalidEvent.single(
            attribute,
            f"HTTP binary mode: the header ce-{attribute} is not UTF-8 once percent-decoded "
            f"(byte {error.start + 1}: {error.reason})",
        ) from None


def _shown(event_id: object) -> object:
    """An id echoed in a refusal: printable (a lone surrogate or NUL escaped) and bounded."""
    return text.shown(event_id, MAX_ID_CHARS) if isinstance(event_id, str) else event_id


async def _body(request: Request, limit: int) -> bytes:
    """The body, read no further than `limit` bytes (413 beyond)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, "Body too large", f"at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, "Body too large", f"at most {limit} bytes")
    return bytes(body)


SOURCE_PARAMETER = {
    "name": "source",
    "in": "query",
    "required": True,
    "description": "the event's source (422 without). A publisher token may leave it out: its "
    "own source is taken, and it may name only that one",
    "schema": {"type": "string", "minLength": 1},
    "example": "/systems/example",
}


@router.get(
    "/{event_id}",
    response_model=EventState,
    responses=problems(401, 403, 404, 422, 503),
    # documented as required, which it is for every token but a publisher's
    openapi_extra={"parameters": [SOURCE_PARAMETER]},
)
async def event_state(
    event_id: str,
    publisher: Publisher,
    connection: Connection,
    source: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> EventState:
    """What became of an event: accepted, applied or rejected (with the reasons)."""
    source = source or publisher.source
    if source is None:
        raise Problem(422, "Source needed", "name the event's source: ?source=/systems/…")
    if publisher.role == "publisher" and source != publisher.source:
        raise Problem(403, "Forbidden", f"this token reads events of {publisher.source} only")
    found = await repository.event_status(connection, publisher.agency, source, event_id)
    if found is None:
        raise Problem(404, "Unknown event", f"no event {event_id!r} from {source}")
    return EventState.model_validate(found)

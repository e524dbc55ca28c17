"""Hostile records at the edge (issue 27): whatever bytes, headers and key a record holds, up to
the broker's limit, the one parse refuses it with reasons or returns an event whose every
string can be stored and sent; scoring turns it into publications that fit the producer's
limit; the gateway's projector keeps what it cannot read as a storable dead letter. Notify and
outreach read the inbound topic through the same `parse_record` and skip what it refuses."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mingdeng.contracts.codec import parse_record, serialize_event
from mingdeng.contracts.derived import DEAD_LETTER_MAX_BYTES, DeadLetter, EventStatus
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.text import unstorable
from mingdeng.contracts.topics import DEAD_LETTER, EVENT_STATUS, EVENTS
from mingdeng.gateway.adapters.projector import Projector
from mingdeng.runtime.projection import Record
from mingdeng.runtime.settings import KafkaSettings
from mingdeng.runtime.stream import InboundRecord
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events

RULES = Rules.load(DEFAULT_RULES)
BROKER_LIMIT = 1024 * 1024  # Kafka's message.max.bytes, and the producers' max_request_size
NOW = datetime(2026, 9, 10, tzinfo=UTC)
VALID = Events(source="/systems/fuzz").violation("v1", "m1", "2026-09-02 10:00").to_cloudevent()


def _dumped(document: Any) -> bytes:
    return json.dumps(document, allow_nan=True).encode(errors="surrogatepass")


NINE_HUNDRED_KB = _dumped({**VALID, "data": {**VALID["data"], "extra": "x" * 900_000}})

# every code point, lone surrogates and NUL included
hostile_text = st.text(st.characters(blacklist_categories=()), max_size=40)
escapes = st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\ud83d\\ude00", "\\\\", '\\"'])
scalars = st.one_of(
    hostile_text,
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def hostile_values(draw: st.DrawFn) -> bytes:
    """A valid event with one field broken, raw bytes, or JSON text with hostile escapes,
    sometimes repeated up to the broker's limit."""
    kind = draw(st.sampled_from(["field", "data-field", "bytes", "escaped", "nested", "huge"]))
    if kind == "field":
        name = draw(st.sampled_from([*VALID, "extension1", "x\udc00"]))
        return _dumped({**VALID, name: draw(values)})
    if kind == "data-field":
        name = draw(st.sampled_from([*VALID["data"], "extra", "\ud800"]))
        return _dumped({**VALID, "data": {**VALID["data"], name: draw(values)}})
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "escaped":
        field = draw(st.sampled_from(["id", "source", "subject", "type", "time"]))
        text = json.dumps(VALID).replace(f'"{field}": "', f'"{field}": "{draw(escapes)}', 1)
        return text.encode()
    if kind == "nested":
        depth = draw(st.integers(min_value=30, max_value=5000))
        return ("[" * depth + "]" * depth).encode()
    piece = draw(st.sampled_from([b"x", b"\xff", b"\\u0000", b"\\ud800", b"{", b"9"]))
    size = draw(st.integers(min_value=200_000, max_value=BROKER_LIMIT - 2048))
    return _dumped({**VALID, "data": {**VALID["data"], "extra": ""}})[:-3] + piece * (
        size // len(piece)
    )


header_names = st.one_of(
    st.sampled_from(["ce_id", "ce_source", "ce_type", "ce_specversion", "content-type"]),
    hostile_text.map(lambda name: f"ce_{name}"),
    st.binary(min_size=1, max_size=8).map(lambda raw: raw.decode(errors="surrogateescape")),
)
headers = st.lists(st.tuples(header_names, st.binary(max_size=300)), max_size=6)
keys = st.one_of(st.none(), st.just(b"m1"), st.binary(max_size=40), st.just(b"\xff" * 100_000))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.none(), hostile_values()), headers=headers, key=keys)
def test_any_record_is_refused_with_reasons_or_parsed_into_storable_text(
    value: bytes | None, headers: list[tuple[str, bytes]], key: bytes | None
) -> None:
    try:
        event = parse_record(value, headers, key, now=NOW)
    except InvalidEvent as refused:
        assert refused.errors
        for error in refused.errors:
            assert unstorable(error.field) is None and unstorable(error.message) is None
            assert len(error.field) <= 200 and len(error.message) <= 500
        return
    text = serialize_event(event).decode()  # encodes: no lone surrogate
    assert "\\u0000" not in text and "\x00" not in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.none(), hostile_values()), headers=headers, key=keys)
@example(value=NINE_HUNDRED_KB, headers=[], key=b"m1")  # the two that stopped scoring for good
@example(value=_dumped({**VALID, "id": "poison-\udc00"}), headers=[], key=b"m1")
@example(
    value=NINE_HUNDRED_KB[:200_000], headers=[("h" * 1000, b"v" * 50_000)] * 6, key=b"k" * 400_000
)
def test_scoring_publishes_what_fits_for_any_record(
    value: bytes | None, headers: list[tuple[str, bytes]], key: bytes | None
) -> None:
    if key is not None and value is not None and len(key) + len(value) > BROKER_LIMIT - 1024:
        key = key[:1024]  # the broker would not have taken the record
    service = ScoringService(RULES, 4, clock=lambda: NOW)
    record = InboundRecord(0, 7, key, value, int(NOW.timestamp() * 1000), tuple(headers))
    publications = service.take([record]) + service.publish_changes(everything=True)
    for publication in publications:
        size = len(publication.key) + len(publication.value or b"")
        size += sum(len(name.encode()) + len(raw) for name, raw in publication.headers)
        assert size < BROKER_LIMIT - 1024
        if publication.topic is DEAD_LETTER:
            assert len(publication.value or b"") <= DEAD_LETTER_MAX_BYTES
            letter = DeadLetter.model_validate_json(publication.value or b"")
            assert (letter.partition, letter.offset) == (0, 7)
            if letter.raw_base64 is not None:
                assert letter.value_size == (None if value is None else len(value))
        elif publication.topic is EVENT_STATUS:
            EventStatus.model_validate_json(publication.value or b"")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.none(), hostile_values()), headers=headers, key=keys)
def test_the_projector_keeps_what_it_cannot_read_as_a_storable_letter(
    value: bytes | None, headers: list[tuple[str, bytes]], key: bytes | None
) -> None:
    kafka = KafkaSettings(bootstrap_servers="unused:9092")
    projector = Projector(kafka)
    records = [
        Record(kafka.topic(topic), 0, 3, key, value, int(NOW.timestamp() * 1000), tuple(headers))
        for topic in (EVENTS, DEAD_LETTER, EVENT_STATUS)
    ]
    prepared = asyncio.run(projector.prepare(records))
    for row in (row for each in prepared.agencies.values() for row in each.refused._rows):
        body = row[3]
        assert unstorable(body) is None  # text PostgreSQL takes, and encodes
        json.loads(body)

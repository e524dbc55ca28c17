"""The CloudEvents bindings in the codec: Kafka structured and binary mode, the record's key,
and the binary-mode document the HTTP binding builds. A binary-mode event is the same event
as its structured form, extensions included, and is refused for the same reasons."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from mingdeng.contracts.codec import (
    binary_document,
    parse_document,
    parse_kafka_event,
    parse_record,
    record_identity,
)
from mingdeng.contracts.derived import DeadLetter, RecordHeader
from mingdeng.contracts.errors import InvalidEvent
from tests.support.bindings import kafka_binary
from tests.support.samples import cloudevent

TIME = "2026-11-15T15:00:00+08:00"


def attended(**overrides: Any) -> dict[str, Any]:
    return cloudevent(
        "mingdeng.lecture.attended.v1",
        {"lecture_id": "L1", "member_id": "m020"},
        time=TIME,
        source="/systems/attendance",
        event_id="att-1",
        **overrides,
    )


def reasons(error: pytest.ExceptionInfo[InvalidEvent]) -> dict[str, str]:
    return {e.field: e.message for e in error.value.errors}


def test_a_kafka_binary_record_is_the_same_event_as_its_structured_form() -> None:
    document = attended(tenant="bureau")
    value, headers = kafka_binary(document)
    binary = parse_record(value, [*headers, ("mingdeng-barrier", b"1")], b"m020")
    structured = parse_record(json.dumps(document).encode(), [], b"m020")
    assert binary == structured
    assert (binary.id, binary.source, binary.subject) == ("att-1", "/systems/attendance", "m020")
    assert dict(binary.extensions) == {"tenant": "bureau"}  # the ce_tenant header, kept
    assert binary.data.model_dump() == {"lecture_id": "L1", "member_id": "m020"}


def test_kafka_structured_mode_takes_the_content_type_of_the_binding_or_none() -> None:
    value = json.dumps(attended()).encode()
    for headers in (
        [],
        [("content-type", b"application/cloudevents+json; charset=UTF-8")],
        [("content-type", b"application/json")],
    ):
        assert parse_kafka_event(value, headers).id == "att-1"
    with pytest.raises(InvalidEvent) as error:
        parse_kafka_event(value, [("content-type", b"text/plain")])
    assert "Kafka structured mode: content-type 'text/plain'" in reasons(error)["(record)"]
    with pytest.raises(InvalidEvent) as error:
        parse_kafka_event(value, [("content-type", b"application/cloudevents-batch+json")])
    assert reasons(error) == {"(record)": "Kafka has no batch mode: one CloudEvent per record"}


def test_a_binary_record_is_refused_with_the_same_reasons_as_a_structured_one() -> None:
    document = attended()
    del document["id"]
    document["data"] = {"lecture_id": "L1"}
    value, headers = kafka_binary(document)
    with pytest.raises(InvalidEvent) as binary:
        parse_kafka_event(value, headers)
    with pytest.raises(InvalidEvent) as structured:
        parse_kafka_event(json.dumps(document).encode())
    assert reasons(binary) == reasons(structured) == {"id": "Field required"}


def test_what_binary_mode_cannot_carry_is_refused_with_a_reason_naming_the_mode() -> None:
    value, headers = kafka_binary(attended())
    with pytest.raises(InvalidEvent) as error:
        parse_kafka_event(b"lecture L1, member m020", headers)
    message = reasons(error)["data"]
    assert message.startswith("Kafka binary mode: the body is the event's data: not JSON")
    with pytest.raises(InvalidEvent) as error:
        parse_kafka_event(b"L1", [*headers[:-1], ("content-type", b"text/plain")])
    assert reasons(error) == {
        "datacontenttype": "Kafka binary mode: the data must be application/json, "
        "not 'text/plain' (the content type of the body)"
    }
    with pytest.raises(InvalidEvent) as error:
        parse_kafka_event(value, [*headers, ("ce_tag", b"\xff")])
    assert reasons(error) == {"tag": "Kafka binary mode: the header 'ce_tag' is not UTF-8 text"}
    with pytest.raises(InvalidEvent) as error:
        parse_kafka_event(value, [*headers, ("ce_data", b"{}")])
    assert reasons(error) == {
        "data": "Kafka binary mode: not an attribute header (the data is the body)"
    }


def test_a_record_whose_key_is_neither_its_agency_nor_its_subject_is_refused_in_either_mode() -> (
    None
):
    document = attended()
    value, headers = kafka_binary(document)
    for raw, record_headers in ((json.dumps(document).encode(), []), (value, headers)):
        with pytest.raises(InvalidEvent) as error:
            parse_record(raw, record_headers, b"m021")
        assert reasons(error) == {
            "(key)": "the key 'm021' is not the subject 'm020' nor the agency 'default': a "
            "record is keyed by its agency (one of the default agency also by its subject, as "
            "before agencies), so that the events about one agency or subject stay in order"
        }
        with pytest.raises(InvalidEvent) as error:
            parse_record(raw, record_headers, None)
        assert reasons(error)["(key)"].startswith("no key is not the subject 'm020'")


def test_an_invalid_record_says_who_sent_it_in_either_mode() -> None:
    document = attended(type="mingdeng.unknown.v1")
    value, headers = kafka_binary(document)
    expected = ("/systems/attendance", "att-1", "mingdeng.unknown.v1")
    assert record_identity(value, headers) == expected
    assert record_identity(json.dumps(document).encode()) == expected
    assert record_identity(b"[1, 2]") is None
    assert record_identity(b"not json", [("content-type", b"text/plain")]) is None


def test_the_http_binary_document_is_the_structured_event() -> None:
    document = attended(tenant="bureau")
    attributes = {k: str(v) for k, v in document.items() if k not in ("data", "datacontenttype")}
    built = binary_document(
        attributes,
        "application/json; charset=utf-8",
        json.dumps(document["data"]).encode(),
        "HTTP binary mode",
    )
    assert built == document
    assert parse_document(built) == parse_document(document)
    # without a Content-Type the data is JSON, as CloudEvents' default
    assert binary_document(attributes, None, b"{}", "HTTP binary mode")["datacontenttype"] == (
        "application/json"
    )
    with pytest.raises(InvalidEvent) as error:
        binary_document(attributes, "application/json", b"[" * 40 + b"]" * 40, "HTTP binary mode")
    assert reasons(error) == {
        "data": "HTTP binary mode: the body is the event's data: nested deeper than 31 levels"
    }


def test_a_dead_letter_keeps_the_headers_exactly() -> None:
    headers = [RecordHeader.of("ce_id", "事件-1".encode()), RecordHeader.of("bin", b"\xff\x00")]
    letter = DeadLetter(
        consumer="scoring",
        topic="mingdeng.events.v1",
        partition=0,
        offset=7,
        key="m020",
        raw="{}",
        raw_base64=base64.b64encode(b"{}").decode(),
        headers=headers,
        reasons=[{"field": "(key)", "message": "…"}],
        failed_at="2026-11-15T15:00:00+08:00",  # type: ignore[arg-type]
    )
    again = DeadLetter.model_validate_json(letter.to_json())
    assert [(h.key, h.value, h.text) for h in again.headers] == [
        ("ce_id", "事件-1".encode(), "事件-1"),
        ("bin", b"\xff\x00", None),
    ]

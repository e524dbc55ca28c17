"""The agency of an event (issue 25, docs/events.md "The agency of an event"): the attribute in
each binding, the default agency, the partition key, and who may publish for an agency, with
the reasons of a refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mingdeng.contracts.agency import DEFAULT_AGENCY, agency_of_source, publishing_refusal
from mingdeng.contracts.codec import binary_document, parse_document, parse_record, serialize_event
from mingdeng.contracts.errors import InvalidEvent
from mingdeng.contracts.rules_versions import RULES_VERSIONS
from tests.support.bindings import kafka_binary
from tests.support.samples import cloudevent

TIME = "2026-11-15T15:00:00+08:00"
CZJ_SOURCE = "/agencies/czj/systems/attendance"


def attended(source: str = CZJ_SOURCE, **extensions: Any) -> dict[str, Any]:
    return cloudevent(
        "mingdeng.lecture.attended.v1",
        {"lecture_id": "L1", "member_id": "m020"},
        time=TIME,
        source=source,
        event_id="att-1",
        **extensions,
    )


def reasons(error: pytest.ExceptionInfo[InvalidEvent]) -> dict[str, str]:
    return {e.field: e.message for e in error.value.errors}


def test_the_agency_is_the_same_in_every_binding() -> None:
    document = attended(agency="czj")
    structured = parse_record(json.dumps(document).encode(), [], b"czj")
    value, headers = kafka_binary(document)
    assert ("ce_agency", b"czj") in headers
    binary = parse_record(value, headers, b"czj")
    attributes = {k: v for k, v in document.items() if k not in ("data", "datacontenttype")}
    http_binary = parse_document(
        binary_document(
            attributes,
            "application/json",
            json.dumps(document["data"]).encode(),
            "HTTP binary mode",
        )
    )
    batch_item = parse_document(json.loads(json.dumps([document]))[0])
    for event in (structured, binary, http_binary, batch_item):
        assert event.agency == "czj"
        assert event.partition_key == "czj"
        assert "agency" not in event.extensions  # typed, not a string key to look up
    assert structured == binary == http_binary == batch_item


def test_an_event_of_an_agency_is_written_with_its_agency_and_partition_key() -> None:
    event = parse_document(attended(agency="czj"))
    written = json.loads(serialize_event(event))
    assert (written["agency"], written["partitionkey"]) == ("czj", "czj")
    assert parse_document(written) == event


def test_an_event_without_the_attribute_belongs_to_the_default_agency_and_is_written_as_before() -> (
    None
):
    document = attended(source="/systems/attendance")
    event = parse_record(json.dumps(document).encode(), [], b"m020")  # keyed by subject: allowed
    assert event.agency == DEFAULT_AGENCY == "default"
    assert parse_record(json.dumps(document).encode(), [], b"default") == event
    assert "agency" not in json.loads(serialize_event(event))
    explicit = parse_document({**document, "agency": "default"})
    assert explicit == event and serialize_event(explicit) == serialize_event(event)


def test_a_record_of_an_agency_must_be_keyed_by_the_agency() -> None:
    value = json.dumps(attended(agency="czj")).encode()
    with pytest.raises(InvalidEvent) as error:
        parse_record(value, [], b"m020")
    assert reasons(error) == {
        "(key)": "the key 'm020' is not the agency 'czj': a record is keyed by its agency, so "
        "that an agency's events stay in order in one partition"
    }


def test_a_partition_key_other_than_the_agency_is_refused() -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_document(attended(agency="czj", partitionkey="m020"))
    assert reasons(error) == {
        "partitionkey": "must be the agency 'czj': an agency's events share one partition key"
    }
    legacy = parse_document(attended(source="/systems/attendance", partitionkey="m020"))
    assert legacy.agency == DEFAULT_AGENCY  # the subject, as before agencies: kept as it was
    assert json.loads(serialize_event(legacy))["partitionkey"] == "m020"


@pytest.mark.parametrize(
    ("source", "agency", "reason"),
    [
        (
            "/agencies/czj/hr",
            "sfj",
            "the source '/agencies/czj/hr' publishes for the agency 'czj' only, not 'sfj'",
        ),
        (
            "/systems/hr",
            "sfj",
            "the source '/systems/hr' publishes for the default agency only, not 'sfj': an "
            "agency's systems publish as /agencies/sfj/…",
        ),
        (
            "/agencies/czj/hr",
            "default",
            "the source '/agencies/czj/hr' publishes for the agency 'czj' only, not 'default'",
        ),
    ],
)
def test_a_source_publishes_for_its_own_agency_only(source: str, agency: str, reason: str) -> None:
    document = attended(source=source, agency=agency)
    with pytest.raises(InvalidEvent) as error:
        parse_document(document)
    assert reasons(error) == {"agency": reason}
    value, headers = kafka_binary(document)
    with pytest.raises(InvalidEvent) as error:
        parse_record(value, headers, agency.encode())
    assert reasons(error) == {"agency": reason}


def test_the_platform_publishes_for_any_agency() -> None:
    assert agency_of_source("/mingdeng/scoring") is None
    assert publishing_refusal("/mingdeng/scoring", "czj") is None
    assert parse_document(attended(source="/mingdeng/ops", agency="sfj")).agency == "sfj"


@pytest.mark.parametrize("agency", ["", "CZJ", "-czj", "c" * 64, "财政局", 7, True])
def test_an_agency_id_is_a_short_lowercase_name(agency: object) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_document(attended(agency=agency))
    assert set(reasons(error)) == {"agency"}


def test_an_agency_registration_belongs_to_the_agency_it_registers() -> None:
    data = {"agency_id": "czj", "name": "市财政局", "committee_id": "cs-jggw"}
    registered = cloudevent(
        "mingdeng.agency.registered.v1", data, time=TIME, source="/mingdeng/ops", agency="czj"
    )
    event = parse_document(registered)
    assert (event.agency, event.subject, event.data.committee_id) == ("czj", "czj", "cs-jggw")
    child = {**data, "agency_id": "czj-tax", "parent_agency_id": "czj"}
    with pytest.raises(InvalidEvent) as error:
        parse_document({**registered, "subject": "czj-tax", "data": child})
    assert reasons(error) == {
        "agency": "must be data.agency_id ('czj-tax'): an agency's registration belongs to the "
        "agency it registers"
    }


def test_an_agency_adopts_a_shipped_rules_version_or_none_in_every_binding() -> None:
    """`rules_version` (docs/events.md): one of RULES_VERSIONS, or absent (the 机关工委's);
    any other is refused with its reason, alike in every binding."""
    data = {"agency_id": "czj", "name": "市财政局", "committee_id": "cs-jggw"}

    def registered(**more: Any) -> dict[str, Any]:
        return cloudevent(
            "mingdeng.agency.registered.v1",
            {**data, **more},
            time=TIME,
            source="/mingdeng/ops",
            agency="czj",
        )

    assert parse_document(registered()).data.rules_version is None  # type: ignore[attr-defined]
    for version in RULES_VERSIONS:
        event = parse_document(registered(rules_version=version))
        assert event.data.rules_version == version  # type: ignore[attr-defined]
    unknown = registered(rules_version="2099.1")
    value, headers = kafka_binary(unknown)
    attributes = {k: v for k, v in unknown.items() if k not in ("data", "datacontenttype")}
    body = json.dumps(unknown["data"]).encode()
    for parse in (
        lambda: parse_record(json.dumps(unknown).encode(), [], b"czj"),
        lambda: parse_record(value, headers, b"czj"),
        lambda: parse_document(
            binary_document(attributes, "application/json", body, "HTTP binary mode")
        ),
        lambda: parse_document(json.loads(json.dumps([unknown]))[0]),
    ):
        with pytest.raises(InvalidEvent) as error:
            parse()
        assert reasons(error) == {"data.rules_version": "Input should be '2026.1' or '2027.1'"}

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mingdeng.contracts import InvalidEvent, parse_event, serialize_event
from mingdeng.contracts.codec import MAX_DEPTH, MAX_EVENT_BYTES, MAX_NUMBER_DIGITS
from mingdeng.contracts.events import PAYLOAD_BY_TYPE, VolunteerLogged
from tests.support.samples import SAMPLE_DATA, cloudevent

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def reasons(raw: object) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw, now=NOW)  # type: ignore[arg-type]
    return {e.field: e.message for e in caught.value.errors}


@pytest.mark.parametrize("event_type", sorted(SAMPLE_DATA))
def test_every_type_parses_into_its_typed_payload(event_type: str) -> None:
    event = parse_event(cloudevent(event_type, time=NOW), now=NOW, latest=False)
    assert type(event.data) is PAYLOAD_BY_TYPE[event_type]
    assert event.type == event_type
    assert event.subject == event.data.subject


@pytest.mark.parametrize("event_type", sorted(SAMPLE_DATA))
def test_serialize_then_parse_gives_the_same_event(event_type: str) -> None:
    event = parse_event(cloudevent(event_type, time=NOW), now=NOW, latest=False)
    again = parse_event(serialize_event(event), now=NOW, latest=False)
    assert again == event


def test_unknown_extra_data_fields_are_kept_through_a_round_trip() -> None:
    data = {**SAMPLE_DATA["mingdeng.lecture.attended.v1"], "seat": "A3"}
    event = parse_event(cloudevent("mingdeng.lecture.attended.v1", data, time=NOW), now=NOW)
    assert event.data.model_extra == {"seat": "A3"}
    assert json.loads(serialize_event(event))["data"]["seat"] == "A3"


def test_cloudevents_extension_attributes_are_kept() -> None:
    raw = cloudevent("mingdeng.lecture.attended.v1", time=NOW, traceparent="00-abc-def-01")
    event = parse_event(raw, now=NOW)
    assert event.extensions == {"traceparent": "00-abc-def-01"}
    assert json.loads(serialize_event(event))["traceparent"] == "00-abc-def-01"


def test_v1_volunteer_event_is_upcast_to_v2_on_read() -> None:
    raw = cloudevent("mingdeng.volunteer.logged.v1", time=NOW)  # 1.5 hours
    event = parse_event(raw, now=NOW)
    assert isinstance(event.data, VolunteerLogged)
    assert event.type == "mingdeng.volunteer.logged.v2"
    assert event.data.minutes == 90
    assert parse_event(raw, now=NOW, latest=False).type == "mingdeng.volunteer.logged.v1"


def test_unknown_type_is_refused_by_name() -> None:
    raw = cloudevent("mingdeng.lecture.attended.v1", time=NOW)
    raw["type"] = "mingdeng.lecture.slept.v1"
    assert reasons(raw) == {"type": "unknown event type 'mingdeng.lecture.slept.v1'"}


def test_each_invalid_field_has_its_own_reason() -> None:
    raw = cloudevent(
        "mingdeng.violation.logged.v1",
        {"violation_id": "v1", "member_id": "m1", "rule": 11, "inspector_id": "m2"},
        time=NOW,
    )
    found = reasons(raw)
    assert set(found) == {"data.rule", "data.description"}
    assert "less than or equal to 10" in found["data.rule"]
    assert found["data.description"] == "Field required"


def test_envelope_rules() -> None:
    raw = cloudevent("mingdeng.lecture.attended.v1", time="2026-11-24T12:00:00")
    raw.update(specversion="0.3", id="x" * 129)
    found = reasons(raw)
    assert set(found) == {"specversion", "id", "time"}
    assert "timezone" in found["time"]


def test_time_more_than_a_day_ahead_is_refused_and_history_is_welcome() -> None:
    ahead = cloudevent("mingdeng.lecture.attended.v1", time=NOW + timedelta(hours=24, minutes=1))
    assert reasons(ahead) == {"time": "more than 24 hours ahead of now"}
    parse_event(cloudevent("mingdeng.lecture.attended.v1", time=NOW + timedelta(hours=23)), now=NOW)
    parse_event(
        cloudevent("mingdeng.lecture.attended.v1", time="2019-01-01T08:00:00+08:00"), now=NOW
    )


def test_subject_must_name_what_the_event_is_about() -> None:
    raw = cloudevent("mingdeng.lecture.attended.v1", time=NOW, subject="m999")
    assert reasons(raw) == {
        "subject": "must equal data.member_id ('m100') for mingdeng.lecture.attended.v1"
    }


def test_visit_kinds_need_their_target() -> None:
    raw = cloudevent(
        "mingdeng.visit.made.v1",
        {"visit_id": "x", "member_id": "m1", "kind": "household"},
        time=NOW,
    )
    assert reasons(raw) == {"data": "a household visit names its household_id"}


def test_index_kpis_are_quarterly_scores_of_the_right_subject() -> None:
    base = SAMPLE_DATA["mingdeng.kpi.reported.v1"]
    too_high = cloudevent("mingdeng.kpi.reported.v1", {**base, "value": 101}, time=NOW)
    assert reasons(too_high) == {"data": "metric 'performance' is a score from 0 to 100"}
    monthly = cloudevent("mingdeng.kpi.reported.v1", {**base, "period": "2026-11"}, time=NOW)
    assert reasons(monthly) == {"data": "metric 'performance' is reported per quarter, like 2026Q4"}
    bureau = {
        "subject_type": "bureau",
        "subject_id": "bureau",
        "metric": "general_budget_revenue",
        "period": "2025",
        "value": 113.32,
        "unit": "亿元",
    }
    assert parse_event(cloudevent("mingdeng.kpi.reported.v1", bureau, time=NOW), now=NOW)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", "\udcff".encode("utf-8", "surrogatepass")])
def test_what_is_not_a_json_object_is_refused(raw: bytes) -> None:
    assert set(reasons(raw)) == {"(event)"}


def test_events_are_immutable() -> None:
    event = parse_event(cloudevent("mingdeng.lecture.attended.v1", time=NOW), now=NOW)
    with pytest.raises(Exception, match="frozen"):
        event.data.member_id = "someone else"  # type: ignore[misc]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_value_is_an_event_or_an_invalid_event_never_another_error(value: object) -> None:
    for raw in (value, json.dumps(value).encode()):
        try:
            parse_event(raw, now=NOW)
        except InvalidEvent as error:
            assert error.errors and all(e.field and e.message for e in error.errors)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SAMPLE_DATA)), st.data())
def test_corrupting_one_field_of_a_valid_event_gives_a_reason_for_that_field(
    event_type: str, data: st.DataObject
) -> None:
    document = cloudevent(event_type, time=NOW)
    field = data.draw(st.sampled_from(sorted(document["data"])))
    document["data"][field] = data.draw(st.sampled_from([None, [], {"x": 1}, 10**30]))
    try:
        parse_event(document, now=NOW)
    except InvalidEvent as error:
        assert any(
            e.field.startswith(f"data.{field}") or e.field in ("data", "subject")
            for e in error.errors
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": "/systems/\x00x"}, "source"),
        (
            {"data": {**SAMPLE_DATA["mingdeng.lecture.attended.v1"], "note": ["ok", "bad\x00"]}},
            "data.note.1",
        ),
    ],
)
def test_nul_characters_are_refused_where_they_are(change: dict, field: str) -> None:
    assert reasons({**cloudevent("mingdeng.lecture.attended.v1", time=NOW), **change}) == {
        field: "NUL characters are not allowed"
    }


# --- limits: any bytes give an event or InvalidEvent, nothing else --------------------------


def attended(**data: object) -> dict[str, object]:
    return cloudevent(
        "mingdeng.lecture.attended.v1",
        {**SAMPLE_DATA["mingdeng.lecture.attended.v1"], **data},
        time=NOW,
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            json.dumps(attended(seats=0)).replace('"seats": 0', '"seats": ' + "7" * 5000).encode(),
            "a number of 5000 characters",
        ),
        (b'{"a": ' + b"1" * 5000 + b".5}", "a number of 5002 characters"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": NaN}', "NaN is not a JSON number"),
        (b"[" * 10_000 + b"]" * 10_000, f"nested deeper than {MAX_DEPTH} levels"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, f"nested deeper than {MAX_DEPTH} levels"),
        (  # one level too deep, short of a RecursionError: found by the walk
            b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1),
            f"nested deeper than {MAX_DEPTH} levels",
        ),
        (json.dumps(attended(note="a\u0000b")).encode(), "NUL characters are not allowed"),
        (b"\x00\x00\x00{", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"{" + b" " * MAX_EVENT_BYTES + b"}", "more than the limit"),
    ],
)
def test_bytes_beyond_the_limits_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    (message,) = reasons(raw).values()
    assert reason in message


def test_a_deep_mapping_from_http_is_refused_too() -> None:
    deep: dict[str, object] = {}
    inner = deep
    for _ in range(MAX_DEPTH + 5):
        inner["x"] = {}
        inner = inner["x"]  # type: ignore[assignment]
    assert "nested deeper" in reasons(attended(extra=deep))["(event)"]


def test_numbers_and_depth_within_the_limits_are_kept() -> None:
    nested: object = 1
    for _ in range(MAX_DEPTH - 3):  # event, data and the field itself are levels too
        nested = [nested]
    big = int("9" * MAX_NUMBER_DIGITS)
    event = parse_event(json.dumps(attended(big=big, nested=nested)), now=NOW)
    assert event.data.model_extra == {"big": big, "nested": nested}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_raise_invalid_event(raw: bytes) -> None:
    try:
        event = parse_event(raw, now=NOW)
    except InvalidEvent as error:
        assert error.errors
    else:
        assert event.type in PAYLOAD_BY_TYPE


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["id", "type", "data", "time", "subject", "x"]), JSON_VALUES)
)
def test_any_json_object_in_an_event_parses_or_raises_invalid_event(fields: dict) -> None:  # type: ignore[type-arg]
    raw = {**attended(), **fields}
    try:
        event = parse_event(json.dumps(raw).encode(), now=NOW)
    except InvalidEvent as error:
        assert error.errors
    else:
        assert event.type in PAYLOAD_BY_TYPE

"""POST /v1/events in the modes of the CloudEvents HTTP binding, through the gateway process:
binary mode is accepted once (re-sent, it is a duplicate, also in structured mode), keeps its
extensions, and is refused for the same reasons as structured mode; what a mode cannot carry
names the mode; a media type that is no mode is 415; a lone surrogate or a NUL anywhere is 422
naming the field in every mode, and nothing is published (issue 27: `"\\ud800"` in `data`
was a 500).

In JSON a lone surrogate is written as an escape (`"\\ud800"`) and a NUL as `"\\u0000"`. An
HTTP header is bytes (latin-1 as text): a surrogate reaches a `ce-` header only as the bytes
that would encode it in UTF-8, percent-encoded (`%ED%A0%80`) or sent as they are; neither is
UTF-8, and the binding refuses such a value. A NUL reaches a header as `%00`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from mingdeng.contracts.codec import parse_kafka_event
from mingdeng.contracts.topics import EVENTS
from tests.e2e.conftest import Platform, token
from tests.support.bindings import attribute_headers
from tests.support.kafka_log import records
from tests.support.samples import cloudevent

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")
SURROGATE, NUL = "\ud800", "\x00"
ANY_DATA_FIELD = "data.…"  # a bad key: the path holds the key itself, written as the codec likes


@pytest.fixture
def platform(platform_of: Callable[..., Platform]) -> Platform:
    return platform_of("gateway")


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.api, headers=ADMIN, timeout=30) as client:
        yield client


def attended(event_id: str) -> dict[str, Any]:
    return cloudevent(
        "mingdeng.lecture.attended.v1",
        {"lecture_id": "L-binary", "member_id": "m020"},
        time="2026-11-15T15:00:00+08:00",
        source="/systems/attendance",
        event_id=event_id,
    )


def binary(
    api: httpx.Client,
    document: dict[str, Any],
    content_type: str = "application/json",
    body: bytes | None = None,
    headers: dict[str, str | bytes] | None = None,
) -> httpx.Response:
    """The event in binary mode: attributes as ce- headers (or `headers` instead of some),
    the data (or `body`) as the body."""
    sent: dict[str, str | bytes] = dict(attribute_headers(document, "ce-"))
    sent.update(headers or {})
    if body is None:
        body = json.dumps(document["data"]).encode()
    return api.post("/v1/events", content=body, headers={**sent, "content-type": content_type})


def test_binary_mode_is_accepted_once_and_published_with_its_extensions(
    api: httpx.Client, platform: Platform
) -> None:
    document = {**attended("bin-1"), "batchref": "roll-call-7"}
    first = binary(api, document)
    assert (first.status_code, first.json()) == (202, {"accepted": ["bin-1"], "duplicates": []})
    again = binary(api, document)
    assert (again.status_code, again.json()) == (202, {"accepted": [], "duplicates": ["bin-1"]})
    structured = api.post(
        "/v1/events",
        content=json.dumps(document),
        headers={"content-type": "application/cloudevents+json"},
    )
    assert structured.json() == {"accepted": [], "duplicates": ["bin-1"]}  # the same event

    published = records(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS))
    assert len(published) == 1 and published[0].key == b"default"  # keyed by its agency
    event = parse_kafka_event(published[0].value, published[0].headers, latest=False)
    assert (event.id, event.source, event.subject) == ("bin-1", "/systems/attendance", "m020")
    assert dict(event.extensions) == {"batchref": "roll-call-7"}


def test_binary_mode_is_refused_for_the_reasons_of_structured_mode(api: httpx.Client) -> None:
    document = attended("bin-2")
    del document["time"]
    document["data"] = {"lecture_id": "L-binary"}
    answers = [
        binary(api, document),
        api.post(
            "/v1/events",
            content=json.dumps(document),
            headers={"content-type": "application/cloudevents+json"},
        ),
    ]
    assert [a.status_code for a in answers] == [422, 422]
    events = [a.json()["events"] for a in answers]
    assert (
        events[0]
        == events[1]
        == [
            {"index": 0, "id": "bin-2", "reasons": [{"field": "time", "message": "Field required"}]}
        ]
    )


def test_what_binary_mode_cannot_carry_gets_a_reason_naming_the_mode(api: httpx.Client) -> None:
    document = attended("bin-3")
    not_json = binary(api, document, body=b"lecture L-binary, member m020")
    assert not_json.status_code == 422
    (reason,) = not_json.json()["events"][0]["reasons"]
    assert reason["field"] == "data"
    assert reason["message"].startswith("HTTP binary mode: the body is the event's data: not JSON")
    plain = binary(api, document, "text/plain")
    assert plain.status_code == 422
    assert plain.json()["events"][0]["reasons"] == [
        {
            "field": "datacontenttype",
            "message": "HTTP binary mode: the data must be application/json, not 'text/plain' "
            "(the content type of the body)",
        }
    ]


def test_a_media_type_that_is_no_cloudevents_mode_is_415(api: httpx.Client) -> None:
    for content_type in ("text/plain", "application/cloudevents+xml", "application/xml"):
        answer = api.post(
            "/v1/events",
            content=json.dumps(attended("m-1")),
            headers={"content-type": content_type},
        )
        assert answer.status_code == 415, content_type
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["title"] == "Unsupported media type"
        assert f"{content_type!r} is not taken here" in answer.json()["detail"]


def attended_in_full(event_id: str) -> dict[str, Any]:
    """An attendance with nested data and an extension: room for a bad string everywhere."""
    return cloudevent(
        "mingdeng.lecture.attended.v1",
        {"lecture_id": "L-poison", "member_id": "m020", "extra": {"notes": ["a", "b"]}},
        time="2026-11-15T15:00:00+08:00",
        source="/systems/attendance",
        event_id=event_id,
        batchref="roll-call-7",
    )


def poisoned(bad: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(what, the event, the field its refusal must name) with `bad` in each place."""
    for attribute in ("id", "source", "subject", "type", "time", "specversion", "batchref"):
        event = attended_in_full(f"{attribute}-{ord(bad)}")
        event[attribute] = f"{event[attribute]}{bad}"
        yield attribute, event, attribute
    for field, change in (
        ("data.lecture_id", lambda data: data.update(lecture_id=f"L{bad}1")),
        ("data.extra.notes.1", lambda data: data["extra"]["notes"].__setitem__(1, bad)),
        (ANY_DATA_FIELD, lambda data: data.update({f"note{bad}": "x"})),
        (ANY_DATA_FIELD, lambda data: data["extra"].update({bad: 1})),
    ):
        event = attended_in_full(f"data-{ord(bad)}")
        change(event["data"])
        yield field, event, field
    event = attended_in_full(f"extension-name-{ord(bad)}")
    event[f"ext{bad}"] = "x"
    yield "an extension attribute's name", event, f"ext{bad}"


def named(send: Callable[[], httpx.Response], field: str, index: int = 0) -> str | None:
    """Why the answer to `send` is not the 422 naming `field` for the event at `index`; None
    if it is."""
    try:
        answer = send()
    except httpx.TransportError as error:  # a 500 may close the connection under the next one
        return f"{type(error).__name__}: {error}"
    if answer.status_code != 422:
        return f"{answer.status_code} {answer.text[:300]}"
    (event,) = answer.json()["events"]
    fields = [reason["field"] for reason in event["reasons"]]
    if event["index"] != index:
        return f"index {event['index']}"
    if field == ANY_DATA_FIELD:
        found = any(f.startswith("data.") and len(f) > len("data.") for f in fields)
    elif field.startswith("ext"):  # the extension name itself, escaped so JSON can carry it
        found = any(f.startswith("ext") for f in fields)
    else:
        found = field in fields
    return None if found else f"fields {fields}"


def structured(api: httpx.Client, document: object, batch: bool = False) -> httpx.Response:
    kind = "application/cloudevents-batch+json" if batch else "application/cloudevents+json"
    # json.dumps writes a lone surrogate as "\ud800" and a NUL as "\u0000"
    return api.post("/v1/events", content=json.dumps(document), headers={"content-type": kind})


def refusals_in_every_mode(api: httpx.Client, bad: str, in_a_header: list[bytes]) -> list[str]:
    """Each place in each mode whose answer is not a 422 naming the field."""
    wrong = []
    for n, (what, event, field) in enumerate(poisoned(bad)):
        good = attended_in_full(f"good-{n}")
        if (why := named(partial(structured, api, event), field)) is not None:
            wrong.append(f"structured, {what}: {why}")
        batch = [good, event]
        if (why := named(partial(structured, api, batch, True), field, 1)) is not None:
            wrong.append(f"batch, {what}: {why}")
        if field.startswith("data") and (why := named(partial(binary, api, event), field)):
            wrong.append(f"binary, the body, {what}: {why}")  # the data is the body
    for attribute in ("id", "source", "subject", "type", "time", "specversion", "batchref"):
        for value in in_a_header:
            event = attended_in_full(f"binary-{attribute}")
            header = f"ce-{attribute}"
            headers = {header: str(event[attribute]).encode() + value}
            if (why := named(partial(binary, api, event, headers=headers), attribute)) is not None:
                wrong.append(f"binary {header} ending {value!r}: {why}")
    return wrong


def nothing_but_the_control_is_published(api: httpx.Client, platform: Platform) -> None:
    control = structured(api, attended_in_full("control"))
    assert control.json() == {"accepted": ["control"], "duplicates": []}
    published = records(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS))
    assert [json.loads(record.value)["id"] for record in published] == ["control"]


def test_a_lone_surrogate_anywhere_is_a_422_naming_the_field(
    api: httpx.Client, platform: Platform
) -> None:
    # in a header: the surrogate's UTF-8 form, percent-encoded and raw; neither is UTF-8
    wrong = refusals_in_every_mode(api, SURROGATE, [b"%ED%A0%80", b"\xed\xa0\x80", b"%ED"])
    assert not wrong, "\n".join(wrong)
    refused = structured(api, attended_in_full(f"poison-{SURROGATE}"))
    assert refused.json()["events"][0]["id"] == "poison-\\ud800"  # echoed as its escape
    nothing_but_the_control_is_published(api, platform)


def test_a_nul_anywhere_is_a_422_naming_the_field(api: httpx.Client, platform: Platform) -> None:
    wrong = refusals_in_every_mode(api, NUL, [b"%00"])
    assert not wrong, "\n".join(wrong)
    nothing_but_the_control_is_published(api, platform)

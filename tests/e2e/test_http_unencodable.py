"""A lone surrogate or a NUL anywhere in an event is a 422 naming the field, in every mode of
the HTTP binding, and nothing is published (issue 27: `"\\ud800"` in `data` was a 500).

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
        {"lecture_id": "L-poison", "member_id": "m020", "extra": {"notes": ["a", "b"]}},
        time="2026-11-15T15:00:00+08:00",
        source="/systems/attendance",
        event_id=event_id,
        batchref="roll-call-7",
    )


def poisoned(bad: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(what, the event, the field its refusal must name) with `bad` in each place."""
    for attribute in ("id", "source", "subject", "type", "time", "specversion", "batchref"):
        event = attended(f"{attribute}-{ord(bad)}")
        event[attribute] = f"{event[attribute]}{bad}"
        yield attribute, event, attribute
    for field, change in (
        ("data.lecture_id", lambda data: data.update(lecture_id=f"L{bad}1")),
        ("data.extra.notes.1", lambda data: data["extra"]["notes"].__setitem__(1, bad)),
        (ANY_DATA_FIELD, lambda data: data.update({f"note{bad}": "x"})),
        (ANY_DATA_FIELD, lambda data: data["extra"].update({bad: 1})),
    ):
        event = attended(f"data-{ord(bad)}")
        change(event["data"])
        yield field, event, field
    event = attended(f"extension-name-{ord(bad)}")
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


def binary(
    api: httpx.Client, document: dict[str, Any], headers: dict[str, str | bytes] | None = None
) -> httpx.Response:
    sent: dict[str, str | bytes] = dict(attribute_headers(document, "ce-"))
    sent.update(headers or {})
    return api.post(
        "/v1/events",
        content=json.dumps(document["data"]),
        headers={**sent, "content-type": "application/json"},
    )


def refusals_in_every_mode(api: httpx.Client, bad: str, in_a_header: list[bytes]) -> list[str]:
    """Each place in each mode whose answer is not a 422 naming the field."""
    wrong = []
    for n, (what, event, field) in enumerate(poisoned(bad)):
        good = attended(f"good-{n}")
        if (why := named(partial(structured, api, event), field)) is not None:
            wrong.append(f"structured, {what}: {why}")
        batch = [good, event]
        if (why := named(partial(structured, api, batch, True), field, 1)) is not None:
            wrong.append(f"batch, {what}: {why}")
        if field.startswith("data") and (why := named(partial(binary, api, event), field)):
            wrong.append(f"binary, the body, {what}: {why}")  # the data is the body
    for attribute in ("id", "source", "subject", "type", "time", "specversion", "batchref"):
        for value in in_a_header:
            event = attended(f"binary-{attribute}")
            header = f"ce-{attribute}"
            headers = {header: str(event[attribute]).encode() + value}
            if (why := named(partial(binary, api, event, headers), attribute)) is not None:
                wrong.append(f"binary {header} ending {value!r}: {why}")
    return wrong


def nothing_but_the_control_is_published(api: httpx.Client, platform: Platform) -> None:
    control = structured(api, attended("control"))
    assert control.json() == {"accepted": ["control"], "duplicates": []}
    published = records(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS))
    assert [json.loads(record.value)["id"] for record in published] == ["control"]


def test_a_lone_surrogate_anywhere_is_a_422_naming_the_field(
    api: httpx.Client, platform: Platform
) -> None:
    # in a header: the surrogate's UTF-8 form, percent-encoded and raw; neither is UTF-8
    wrong = refusals_in_every_mode(api, SURROGATE, [b"%ED%A0%80", b"\xed\xa0\x80", b"%ED"])
    assert not wrong, "\n".join(wrong)
    refused = structured(api, attended(f"poison-{SURROGATE}"))
    assert refused.json()["events"][0]["id"] == "poison-\\ud800"  # echoed as its escape
    nothing_but_the_control_is_published(api, platform)


def test_a_nul_anywhere_is_a_422_naming_the_field(api: httpx.Client, platform: Platform) -> None:
    wrong = refusals_in_every_mode(api, NUL, [b"%00"])
    assert not wrong, "\n".join(wrong)
    nothing_but_the_control_is_published(api, platform)

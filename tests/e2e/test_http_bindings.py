"""POST /v1/events in the modes of the CloudEvents HTTP binding, through the gateway process:
binary mode is accepted once (re-sent, it is a duplicate, also in structured mode), keeps its
extensions, and is refused for the same reasons as structured mode; what a mode cannot carry
names the mode; a media type that is no mode is 415."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
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
) -> httpx.Response:
    """The event in binary mode: attributes as ce- headers, the data (or `body`) as the body."""
    headers = dict(attribute_headers(document, "ce-"))
    if body is None:
        body = json.dumps(document["data"]).encode()
    return api.post("/v1/events", content=body, headers={**headers, "content-type": content_type})


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
    assert len(published) == 1 and published[0].key == b"m020"
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

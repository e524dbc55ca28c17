"""POST /v1/events answers every client input with a 2xx or a 4xx, never a 500: a corpus by
hand (depth, number size, body size, NUL, conflicts) and one generated with hypothesis."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mingdeng.contracts.codec import MAX_DEPTH
from mingdeng.contracts.topics import EVENTS
from tests.e2e.conftest import Platform, token
from tests.support.kafka_log import records
from tests.support.samples import SAMPLE_DATA

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")
BODY_LIMIT = 64 * 1024
BATCH_LIMIT = 50


def attended(event_id: str, **data: object) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "/systems/attendance",
        "type": "mingdeng.lecture.attended.v1",
        "subject": "m020",
        "time": "2026-11-15T15:00:00+08:00",
        "datacontenttype": "application/json",
        "data": {**SAMPLE_DATA["mingdeng.lecture.attended.v1"], "member_id": "m020", **data},
    }


@pytest.fixture
def platform(platform_of: Callable[..., Platform]) -> Platform:
    return platform_of(
        "gateway",
        MINGDENG_GATEWAY_MAX_BODY_BYTES=str(BODY_LIMIT),
        MINGDENG_GATEWAY_MAX_BATCH_EVENTS=str(BATCH_LIMIT),
    )


@pytest.fixture
def api(platform: Platform) -> httpx.Client:
    with httpx.Client(base_url=platform.api, headers=ADMIN, timeout=30) as client:
        yield client


def post(api: httpx.Client, body: bytes, batch: bool = False) -> httpx.Response:
    kind = "application/cloudevents-batch+json" if batch else "application/cloudevents+json"
    return api.post("/v1/events", content=body, headers={"content-type": kind})


def deep(levels: int) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def test_hand_written_bad_input_gets_the_right_4xx(api: httpx.Client) -> None:
    def status_and_detail(body: bytes, batch: bool = False) -> tuple[int, str]:
        answer = post(api, body, batch)
        return answer.status_code, json.dumps(answer.json())

    huge = json.dumps(attended("n1")).replace('"m020"}', '"m020", "n": ' + "9" * 5000 + "}")
    code, detail = status_and_detail(huge.encode())
    assert code == 422 and "a number of 5000 characters" in detail
    code, detail = status_and_detail(b"[" * 500 + b"]" * 500)
    assert code == 422 and f"nested deeper than {MAX_DEPTH + 1} levels" in detail
    code, detail = status_and_detail(json.dumps(attended("d1", x=deep(MAX_DEPTH - 1))).encode())
    assert code == 422 and f"nested deeper than {MAX_DEPTH} levels" in detail
    code, detail = status_and_detail(b'{"a": "\\u0000"}')
    assert code == 422
    code, detail = status_and_detail(b"\x00\xff garbage")
    assert code == 422 and "not JSON" in detail
    code, detail = status_and_detail(json.dumps(attended("big", pad="x" * BODY_LIMIT)).encode())
    assert code == 413 and f"at most {BODY_LIMIT} bytes" in detail
    twenty_mb = b'{"pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    assert post(api, twenty_mb).status_code == 413
    # chunked, without a Content-Length: the limit holds while reading
    chunks = (b"x" * 65536 for _ in range(100))
    streamed = api.post("/v1/events", content=chunks, headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    too_many = [attended(f"many-{n}") for n in range(BATCH_LIMIT + 1)]
    code, detail = status_and_detail(json.dumps(too_many).encode(), batch=True)
    assert code == 413 and f"at most {BATCH_LIMIT} in one request" in detail


def test_the_same_key_with_other_content_is_a_conflict_and_publishes_nothing(
    api: httpx.Client,
) -> None:
    first = post(api, json.dumps(attended("c1")).encode())
    assert first.status_code == 202 and first.json() == {"accepted": ["c1"], "duplicates": []}
    again = post(api, json.dumps(attended("c1")).encode())
    assert again.status_code == 202 and again.json() == {"accepted": [], "duplicates": ["c1"]}
    other = attended("c1", lecture_id="L-other")
    batch = json.dumps([attended("c2"), other]).encode()
    conflict = post(api, batch, batch=True)
    assert conflict.status_code == 409 and conflict.json()["ids"] == ["c1"]
    # nothing of that batch was recorded: c2 is new when sent alone
    alone = post(api, json.dumps(attended("c2")).encode())
    assert alone.json() == {"accepted": ["c2"], "duplicates": []}


def test_the_same_key_twice_in_a_batch_counts_once_or_is_refused_with_both_positions(
    api: httpx.Client, platform: Platform
) -> None:
    """Within one batch: the same event twice is one event; the same (source, id) with
    another content is a 422 naming the id and both positions (docs/api.md says why not 409),
    and nothing of the batch is published."""
    twice = [attended("b1"), attended("b2"), {**attended("b1")}]
    twice[2] = dict(reversed(list(twice[2].items())))  # written otherwise, the same event
    once = post(api, json.dumps(twice).encode(), batch=True)
    assert (once.status_code, once.json()) == (202, {"accepted": ["b1", "b2"], "duplicates": []})
    again = post(api, json.dumps(twice).encode(), batch=True)
    assert again.json() == {"accepted": [], "duplicates": ["b1", "b2"]}

    other = [attended("b3"), attended("b4"), attended("b3", lecture_id="L-other")]
    refused = post(api, json.dumps(other).encode(), batch=True)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["detail"] == "1 of 3 events are invalid; nothing was published"
    (event,) = problem["events"]
    assert (event["index"], event["id"], event["same_as"]) == (2, "b3", 0)
    assert event["reasons"] == [
        {
            "field": "id",
            "message": "the same source and id as event 0 of this batch, with another content: "
            "an event is immutable; send a correction under a new id",
        }
    ]
    published = records(platform.kafka.bootstrap_servers, platform.kafka.topic(EVENTS))
    assert sorted(json.loads(r.value)["id"] for r in published) == ["b1", "b2"]
    # nothing of the refused batch was claimed either: its first b3 is new when sent alone
    alone = post(api, json.dumps(other[:2]).encode(), batch=True)
    assert alone.json() == {"accepted": ["b3", "b4"], "duplicates": []}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=20,
)
MUTATIONS = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(sorted(attended("x"))), JSON, max_size=4).map(
        lambda fields: json.dumps({**attended("h"), **fields}).encode()
    ),
    st.integers(min_value=1, max_value=3000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=300, max_value=6000).map(lambda n: b'{"n": ' + b"7" * n + b"}"),
)


def test_generated_bad_input_never_gets_a_server_error(api: httpx.Client) -> None:
    seen: dict[int, int] = {}

    @settings(
        max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(body=MUTATIONS, batch=st.booleans())
    def check(body: bytes, batch: bool) -> None:
        status = post(api, body, batch).status_code
        seen[status] = seen.get(status, 0) + 1
        assert status in (202, 409, 413, 422), status

    check()
    assert seen.get(422, 0) > 50, seen  # most of the corpus is refused with reasons

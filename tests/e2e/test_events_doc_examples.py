"""The examples of docs/events.md, one per CloudEvents binding, run as they are written
(their fenced python blocks) against the gateway and scoring: each event is accepted once
and applied."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Platform, token
from tests.support.processes import wait_for

pytestmark = pytest.mark.e2e
DOC = Path(__file__).parents[2] / "docs" / "events.md"
SOURCE = "/systems/attendance"
PUBLISHER = token("publisher", "attendance", SOURCE)


def examples() -> dict[str, str]:
    """{heading: its python block} of the section "Examples, one per binding"."""
    section = DOC.read_text(encoding="utf-8").split("## Examples, one per binding", 1)[1]
    return dict(re.findall(r"### (.+?)\n.*?```python\n(.*?)```", section, flags=re.S))


def test_the_doc_has_one_example_per_binding() -> None:
    assert list(examples()) == [
        "HTTP, structured mode",
        "HTTP, binary mode",
        "HTTP, batch mode",
        "Kafka, structured mode",
        "Kafka, binary mode",
    ]


@pytest.fixture
def platform(platform_of: Callable[..., Platform]) -> Iterator[Platform]:
    platform = platform_of("gateway", "scoring")
    names = {
        "MINGDENG_API": platform.api,
        "MINGDENG_TOKEN": PUBLISHER["Authorization"].removeprefix("Bearer "),
        "MINGDENG_KAFKA_BOOTSTRAP_SERVERS": platform.kafka.bootstrap_servers,
        "MINGDENG_KAFKA_TOPIC_PREFIX": platform.kafka.topic_prefix,
    }
    before = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield platform
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_each_example_publishes_its_events_once_and_they_are_applied(platform: Platform) -> None:
    published: dict[str, list[str]] = {}
    for heading, code in examples().items():
        scope: dict[str, Any] = {}
        exec(compile(code, f"{DOC}: {heading}", "exec"), scope)
        ids = [e.get_id() for e in scope.get("events", [scope.get("event")])]
        published[heading] = ids
        if heading.startswith("HTTP"):
            response = scope["response"]
            assert response.status_code == 202, response.text
            assert response.json() == {"accepted": ids, "duplicates": []}
    assert len({i for ids in published.values() for i in ids}) == 6

    with httpx.Client(base_url=platform.api, headers=PUBLISHER, timeout=10) as api:

        def state(event_id: str) -> dict[str, Any]:
            return api.get(f"/v1/events/{event_id}", params={"source": SOURCE}).json()

        for heading, ids in published.items():
            for event_id in ids:
                wait_for(
                    lambda event_id=event_id: state(event_id).get("status") == "applied",
                    60,
                    f"{heading}: {event_id} applied",
                )
                found = state(event_id)
                assert (found["type"], found["detail"]) == ("mingdeng.lecture.attended.v1", "new")

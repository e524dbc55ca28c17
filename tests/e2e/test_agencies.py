"""Agencies on the real broker and database (issue 25): a publisher of one agency cannot
publish for another, over HTTP (422 on `agency`) or on Kafka (dead letter with the reason);
its own events are accepted; a close of one agency leaves the other's quarter open."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.topics import EVENTS, SCORES, SELECTIONS
from mingdeng.gateway.adapters.tokens import issue_token
from mingdeng.gateway.domain.access import Principal
from tests.e2e.conftest import SECRET, Platform, token
from tests.e2e.test_poison_records import dead_letters
from tests.support.builders import Events
from tests.support.kafka_log import latest
from tests.support.processes import wait_for
from tests.unit.scoring.scenario import EXPECTED_V, quarter_events

pytestmark = pytest.mark.e2e
ADMIN = token("admin", "root")


def publisher_of(agency: str) -> tuple[str, dict[str, str]]:
    source = f"/agencies/{agency}/hr"
    jwt = issue_token(
        SECRET, Principal(f"{agency}-hr", "publisher", source, agency), timedelta(hours=1)
    )
    return source, {"Authorization": f"Bearer {jwt}"}


def selection_status(platform: Platform, agency: str, quarter: str) -> str | None:
    found = latest(platform.kafka.bootstrap_servers, platform.kafka.topic(SELECTIONS))
    value = found.get(f"{agency}/{quarter}")
    return None if value is None else str(json.loads(value)["status"])


def test_a_publisher_publishes_for_its_agency_only_and_a_close_is_one_agencys(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("scoring", "gateway")
    api = httpx.Client(base_url=platform.api, timeout=10)
    czj_source, czj_publisher = publisher_of("czj")
    sfj_source, sfj_publisher = publisher_of("sfj")

    # over HTTP: czj's token, an event for sfj (czj's source, or sfj's): 422 on `agency`
    for source in (czj_source, sfj_source):
        foreign = Events(source=source, agency="sfj", prefix="x").branch("b9", "2026-06-01 09:00")
        refused = api.post("/v1/events", json=foreign.to_cloudevent(), headers=czj_publisher)
        if source == sfj_source:  # another source than the token's: refused before the agency
            assert refused.status_code == 403
            continue
        assert refused.status_code == 422, refused.text
        reasons = [r for event in refused.json()["events"] for r in event["reasons"]]
        assert [r["field"] for r in reasons] == ["agency"]
        assert "'czj'" in reasons[0]["message"] and "'sfj'" in reasons[0]["message"]

    # each agency's own quarter over HTTP: accepted
    czj, sfj = Events(source=czj_source, agency="czj"), Events(source=sfj_source, agency="sfj")
    for events, publisher in (
        (quarter_events(czj), czj_publisher),
        ([*quarter_events(sfj), sfj.violation("vx", "A", "2026-08-01 10:00")], sfj_publisher),
    ):
        posted = api.post("/v1/events", json=[e.to_cloudevent() for e in events], headers=publisher)
        assert posted.status_code == 202, posted.text
        assert len(posted.json()["accepted"]) == len(events)

    # on Kafka: a record for sfj from czj's source, keyed by its agency: dead-lettered
    producer = KafkaProducer(bootstrap_servers=platform.kafka.bootstrap_servers, acks="all")
    smuggled = Events(source=czj_source, agency="sfj", prefix="k").violation(
        "vk", "B", "2026-08-02 10:00"
    )
    producer.send(platform.kafka.topic(EVENTS), key=b"sfj", value=serialize_event(smuggled)).get(30)
    producer.close()

    def smuggled_letter() -> dict[str, Any] | None:
        return next(
            (letter for letter in dead_letters(platform) if '"id":"k1"' in letter["raw"]), None
        )

    wait_for(lambda: smuggled_letter() is not None, 60, "the dead letter of sfj's record")
    letter = smuggled_letter()
    assert letter is not None
    assert [r["field"] for r in letter["reasons"]] == ["agency"]
    assert "publishes for the agency 'czj' only, not 'sfj'" in letter["reasons"][0]["message"]

    # both quarters scored apart (the same member ids; sfj's A broke a rule)
    def scores() -> dict[str, float]:
        found = latest(platform.kafka.bootstrap_servers, platform.kafka.topic(SCORES))
        return {key: json.loads(value)["index"] for key, value in found.items()}

    wanted = {
        "czj/2026Q3/member/A": EXPECTED_V["A"],
        "sfj/2026Q3/member/A": EXPECTED_V["A"] - 10,
        "sfj/2026Q3/member/B": EXPECTED_V["B"],  # the smuggled violation of B did not count
    }
    wait_for(lambda: all(scores().get(k) == v for k, v in wanted.items()), 60, "both quarters")
    wait_for(
        lambda: selection_status(platform, "sfj", "2026Q3") == "provisional",
        60,
        "sfj's provisional selection",
    )

    # the admin closes czj's quarter: czj's is final, sfj's stays open
    close = Events(source="/mingdeng/admin", agency="czj", prefix="c").close(
        "2026Q3", "2026-10-11 00:00"
    )
    assert api.post("/v1/events", json=close.to_cloudevent(), headers=ADMIN).status_code == 202
    wait_for(lambda: selection_status(platform, "czj", "2026Q3") == "final", 60, "czj's close")
    assert selection_status(platform, "sfj", "2026Q3") == "provisional"
    final = json.loads(
        latest(platform.kafka.bootstrap_servers, platform.kafka.topic(SCORES))[
            "czj/2026Q3/member/A"
        ]
    )
    assert (final["status"], final["index"]) == ("final", EXPECTED_V["A"])
    assert (
        json.loads(
            latest(platform.kafka.bootstrap_servers, platform.kafka.topic(SCORES))[
                "sfj/2026Q3/member/A"
            ]
        )["status"]
        == "provisional"
    )

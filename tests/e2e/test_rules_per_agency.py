"""Rules per agency on the real broker and services (issue 25, item 3): two agencies with the
same member ids publish the hand-computed quarter over HTTP, the default agency having adopted
rules 2027.1, czj under the 机关工委's (the installation's rules file, 2026.1). Each agency's
indices equal the calculation by hand under its rules (tests/unit/scoring/scenario.py,
`BY_RULES_VERSION`), on scoring's topics and through the API; the gateway refuses an unknown
version with its reason; czj adopting 2027.1 later moves its open quarter; a replay verifies."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable

import httpx
import pytest

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.topics import SCORES
from tests.e2e.conftest import Platform, token
from tests.e2e.test_agencies import publisher_of
from tests.support.builders import Events
from tests.support.kafka_log import latest
from tests.support.processes import ROOT, wait_for
from tests.unit.scoring.scenario import BY_RULES_VERSION, Expected, quarter_events

pytestmark = pytest.mark.e2e
SOURCE = "/systems/hr"


def published(platform: Platform, agency: str) -> Expected:
    """The quarter's indices of `agency` as scoring published them (rounded for display)."""
    prefix = "" if agency == DEFAULT_AGENCY else f"{agency}/"
    found = latest(platform.kafka.bootstrap_servers, platform.kafka.topic(SCORES))

    def index(level: str, subject: str) -> float:
        value = found.get(f"{prefix}2026Q3/{level}/{subject}")
        return -1.0 if value is None else float(json.loads(value)["index"])

    return Expected(
        {m: index("member", m) for m in "ABC"},
        {d: index("department", d) for d in ("d1", "d2")},
        index("branch", "b1"),
    )


def by_hand(version: str) -> Expected:
    oracle = BY_RULES_VERSION[version]
    return Expected(oracle.vanguard, oracle.fortress, round(oracle.branch, 2))


def test_two_agencies_under_two_rules_versions_get_the_indices_of_their_rules(
    platform_of: Callable[..., Platform],
) -> None:
    platform = platform_of("scoring", "gateway")
    api = httpx.Client(base_url=platform.api, timeout=10)
    bureau, bureau_publisher = Events(source=SOURCE), token("publisher", "hr-system", SOURCE)
    czj_source, czj_publisher = publisher_of("czj")
    czj = Events(source=czj_source, agency="czj")

    unknown = czj.agency_registered("2026-06-01 08:00", "2027.1").to_cloudevent()
    unknown["data"]["rules_version"] = "2099.1"
    refused = api.post("/v1/events", json=unknown, headers=czj_publisher)
    assert refused.status_code == 422, refused.text
    [reason] = refused.json()["events"][0]["reasons"]
    assert reason == {
        "field": "data.rules_version",
        "message": "Input should be '2026.1' or '2027.1'",
    }

    for events, adopted, publisher in (
        (bureau, "2027.1", bureau_publisher),
        (czj, None, czj_publisher),
    ):
        quarter = quarter_events(events)
        random.Random(5).shuffle(quarter)
        batch = [events.agency_registered("2026-06-01 08:00", adopted), *quarter]
        posted = api.post("/v1/events", json=[e.to_cloudevent() for e in batch], headers=publisher)
        assert posted.status_code == 202, posted.text

    wanted = {DEFAULT_AGENCY: by_hand("2027.1"), "czj": by_hand("2026.1")}
    wait_for(
        lambda: all(published(platform, a) == e for a, e in wanted.items()), 60, "both agencies"
    )

    # the default agency's, as the gateway serves them: the values and the rules named
    admin = token("admin", "m-admin")

    def member_page(member_id: str) -> dict:
        return dict(api.get(f"/v1/members/{member_id}/vanguard/2026Q3", headers=admin).json())

    wait_for(
        lambda: all(
            member_page(m).get("index") == v for m, v in wanted[DEFAULT_AGENCY].vanguard.items()
        ),
        30,
        "the gateway's read model",
    )
    assert {member_page(m)["rules_version"] for m in "ABC"} == {"2027.1"}
    assert member_page("B")["components"]["discipline"] == 0.0  # 20 − 20 × 1 under 2027.1

    # czj adopts 2027.1 while its quarter is open: the quarter moves to the new rules
    later = czj.agency_registered("2026-09-30 08:00", "2027.1").to_cloudevent()
    assert api.post("/v1/events", json=later, headers=czj_publisher).status_code == 202
    wait_for(lambda: published(platform, "czj") == by_hand("2027.1"), 60, "czj under 2027.1")

    replay = subprocess.run(
        [str(ROOT / ".venv/bin/mingdeng-scoring"), "replay", "--verify"],
        env={**platform.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "0 differ" in replay.stdout

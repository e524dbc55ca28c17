"""The benchmarks' and crash trials' generated history is valid under the contracts, and scores."""

from __future__ import annotations

from collections import Counter

from mingdeng.contracts.codec import parse_event
from mingdeng.contracts.periods import Quarter
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from tests.support.history import Bureau, as_agency, events_per_quarter, history
from tests.support.records import Log


def test_every_generated_event_is_valid_and_the_size_is_as_estimated() -> None:
    bureau = Bureau(members=40, departments=4, branches=2, quarters=2)
    records = list(history(bureau))
    types = Counter(parse_event(r.value).type for r in records)
    assert types["mingdeng.quarter.closed.v1"] == 2
    assert types["mingdeng.member.registered.v1"] == 40
    activity = len(records) - sum(
        1 for r in records if b"registered" in r.value or b"paired" in r.value
    )
    assert abs(activity - 2 * events_per_quarter(bureau)) < 0.1 * activity
    assert list(history(bureau)) == records  # deterministic


def test_the_generated_history_scores_and_closes(rules: Rules) -> None:
    service = ScoringService(rules, 4)
    log = Log()
    for record in history(Bureau(members=40, departments=4, branches=2, quarters=2)):
        if record.is_close:
            service.take(
                [log.append(record.value, p, barrier=True, key=record.key) for p in range(4)]
            )
        else:
            service.take([log.append(record.value, sum(record.key) % 4, key=record.key)])
    service.publish_changes()
    assert set(service.engine.finals) == {Quarter(2023, 1), Quarter(2023, 2)}
    assert len(service.engine.finals[Quarter(2023, 1)].members) == 40


def test_an_agency_s_history_is_made_as_as_agency_makes_it() -> None:
    """The city bench generates each agency's history at once, without a second pass."""
    bureau = Bureau(members=12, departments=3, branches=2, quarters=2)
    own = list(history(Bureau(members=12, departments=3, branches=2, quarters=2, agency="a007")))
    assert [(r.key, parse_event(r.value), r.is_close) for r in own] == [
        (b"a007", parse_event(as_agency(r.value, "a007")), r.is_close) for r in history(bureau)
    ]
    assert parse_event(own[0].value).agency == "a007"

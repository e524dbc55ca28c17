"""Scoring per agency (issue 25): each agency is scored on its own, its close is its own, and its
indices equal an independent calculation from its events alone."""

from __future__ import annotations

import json
import random

import pytest

from mingdeng.contracts.agency import DEFAULT_AGENCY
from mingdeng.contracts.codec import parse_record
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.registry import Stamp
from mingdeng.contracts.rules_versions import RULES_VERSIONS
from mingdeng.contracts.topics import AGENCY_HEADER, EVENTS, SCORES, SELECTIONS
from mingdeng.runtime.stream import Publication
from mingdeng.scoring.domain.engine import ScoringEngine
from mingdeng.scoring.domain.rules import Rules, shipped_rules
from mingdeng.scoring.service import MisplacedRecord, ScoringService, home_partition
from tests.support.builders import Events, at
from tests.support.records import PARTITIONS, Log
from tests.unit.scoring.scenario import EXPECTED_V, quarter_events
from tests.unit.scoring.test_properties import DAYS, RULES, activity, registry

Q3 = Quarter(2026, 3)


def values(publications: list[Publication], topic: str = SCORES.name) -> dict[str, dict]:
    return {
        p.key.decode(): json.loads(p.value)
        for p in publications
        if p.topic.name == topic and p.value is not None
    }


def two_agencies(rules: Rules) -> tuple[ScoringService, Log, Events, Events]:
    """The hand-computed quarter in the default agency and in `czj`, same member ids; in
    `czj` member A also breaks a rule (V = 98 − 10)."""
    service = ScoringService(rules, PARTITIONS, clock=lambda: at("2026-10-20 10:00"))
    log, default, czj = Log(), Events(), Events(agency="czj")
    log.extend(quarter_events(default))
    log.extend([*quarter_events(czj), czj.violation("vx", "A", "2026-08-01 10:00")])
    return service, log, default, czj


def test_the_same_member_id_in_two_agencies_is_two_people(rules: Rules) -> None:
    service, log, _, _ = two_agencies(rules)
    out = service.take(log.interleaved([0, 1, 2, 3] * 50)) + service.publish_changes()
    scores = values(out)
    assert {m: scores[f"2026Q3/member/{m}"]["index"] for m in "ABC"} == EXPECTED_V
    assert scores["czj/2026Q3/member/A"]["index"] == EXPECTED_V["A"] - 10
    assert scores["czj/2026Q3/member/B"]["index"] == EXPECTED_V["B"]
    for publication in out:
        of_czj = publication.key.startswith(b"czj/")
        assert ((AGENCY_HEADER, b"czj") in publication.headers) == of_czj
    assert set(service.books) == {DEFAULT_AGENCY, "czj"}
    assert service.engine.standings(Q3).exemplars == ("A",)
    assert service.engine_of("czj").standings(Q3).exemplars == ()  # czj's A broke a rule


def test_a_close_of_one_agency_leaves_the_other_open(rules: Rules) -> None:
    service, log, default, czj = two_agencies(rules)
    service.take(log.interleaved([]))
    service.publish_changes()
    close = czj.close("2026Q3", "2026-10-11 00:00")
    record = log.append(close)  # one record, keyed by the agency: no barrier copies
    assert record.key == b"czj"
    out = service.take([record])
    assert service.blocked_partitions == set()  # nothing waits at a barrier
    assert Q3 in service.engine_of("czj").closed
    assert Q3 not in service.engine.closed
    selections = values(out, SELECTIONS.name)
    assert selections["czj/2026Q3"]["status"] == "final"
    assert "2026Q3" not in selections
    later = service.take(log.extend([default.volunteer("B", "2026-09-30 10:00")]))
    later += service.publish_changes(everything=True)
    assert values(later)["2026Q3/member/B"]["index"] == EXPECTED_V["B"] + 2
    assert values(later, SELECTIONS.name)["2026Q3"]["status"] == "provisional"


def test_the_default_agency_still_closes_behind_its_barrier(rules: Rules) -> None:
    service, log, default, _ = two_agencies(rules)
    service.take(log.interleaved([]))
    copies = log.close(default.close("2026Q3", "2026-10-11 00:00"))
    service.take(copies[:2])
    assert service.blocked_partitions == {0, 1}
    service.take(copies[2:])
    assert Q3 in service.engine.closed and Q3 not in service.engine_of("czj").closed


def test_an_automatic_close_of_an_agency_is_one_record_keyed_by_it(rules: Rules) -> None:
    service = ScoringService(rules, PARTITIONS, clock=lambda: at("2026-10-20 10:00"))
    czj = Events(agency="czj")
    log = Log()
    service.take(log.extend(quarter_events(czj)))
    closes = service.due(at("2026-10-20 10:00"))  # 2026Q2 and 2026Q3 ended while it ran
    assert [(c.topic, c.key, c.partition, c.headers) for c in closes] == 2 * [
        (EVENTS, b"czj", None, ())
    ]
    events = [parse_record(c.value, [], c.key) for c in closes]
    assert [(e.agency, e.id, e.source) for e in events] == [
        ("czj", f"close-czj-{q}", "/mingdeng/scoring") for q in ("2026Q2", "2026Q3")
    ]
    assert service.due(at("2026-10-20 10:00")) == []  # asked once


def test_indices_per_agency_equal_an_independent_calculation() -> None:
    """Three agencies with the same ids and random activity, each registered under a rules
    version drawn at random (none, or one or two registrations: the newest by stamp holds),
    interleaved at random over the partitions: each agency's standings equal an engine of that
    agency's rules fed its events alone, and a checkpoint taken on the way resumes to the same."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    versions = st.sampled_from([None, *RULES_VERSIONS])

    @settings(max_examples=40, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        by_agency, rules_of = {}, {}
        for agency in (DEFAULT_AGENCY, "czj", "sfj"):
            e = Events(agency=agency)
            events = registry(e) + data.draw(st.lists(activity(e), max_size=25))
            registrations = [
                e.agency_registered(f"2026-0{month}-{day:02d} 08:00", version)
                for version, month, day in data.draw(
                    st.lists(st.tuples(versions, st.integers(7, 9), DAYS), max_size=2)
                )
            ]
            for registration in registrations:
                events.insert(data.draw(st.integers(0, len(events))), registration)
            newest = max(registrations, key=Stamp.of, default=None)
            chosen = None if newest is None else newest.data.rules_version  # type: ignore[attr-defined]
            rules_of[agency] = RULES if chosen is None else shipped_rules()[chosen]
            by_agency[agency] = events
        log = Log()
        for agency in by_agency:
            log.extend(by_agency[agency])
        order = data.draw(st.lists(st.integers(0, PARTITIONS - 1), max_size=300))
        records = log.interleaved(order)
        cut = data.draw(st.integers(0, len(records)))
        service = ScoringService(RULES, PARTITIONS)
        service.take(records[:cut])
        resumed = ScoringService(RULES, PARTITIONS)
        assert resumed.restore(service.checkpoint())
        for taking in (service, resumed):
            taking.take(records[cut:])
        for agency, events in by_agency.items():
            alone = ScoringEngine(rules_of[agency])
            for event in random.Random(7).sample(events, len(events)):
                alone.apply(event)
            assert service.engine_of(agency).standings(Q3) == alone.standings(Q3)
            assert resumed.engine_of(agency).standings(Q3) == alone.standings(Q3)

    check()


def test_a_task_of_one_partition_holds_the_agencies_keyed_to_it(rules: Rules) -> None:
    """Partitioned scoring (ADR 0004): czj's task scores czj alone and closes its quarter on
    the one record; a copy of a close on a partition that is not its agency's is passed over
    (that partition's task would close it); a record of an agency off its partition stops it."""
    home = home_partition("czj", PARTITIONS)
    task = ScoringService(rules, PARTITIONS, clock=lambda: at("2026-10-20 10:00"), reads=(home,))
    log, czj = Log(), Events(agency="czj")
    for event in quarter_events(czj):
        log.append(event, home)
    log.append(czj.close("2026Q3", "2026-10-11 00:00"), home)
    copy = log.append(Events().close("2026Q3", "2026-10-11 00:00"), home, barrier=True)
    out = task.take(log.interleaved([])) + task.publish_changes()
    final = values(out, SELECTIONS.name)["czj/2026Q3"]
    assert final["status"] == "final"
    assert set(task.books) == {"czj"}  # the default agency's copy was passed over
    assert task.next_offsets() == {home: copy.offset + 1}
    elsewhere = next(a for a in ("sfj", "jyj", "wjw") if home_partition(a, PARTITIONS) != home)
    stray = log.append(Events(agency=elsewhere).volunteer("A", "2026-08-01 10:00"), home)
    with pytest.raises(MisplacedRecord):
        task.take([stray])

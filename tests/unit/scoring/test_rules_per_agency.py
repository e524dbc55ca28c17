"""Rules per agency (issue 25, item 3): an agency adopts a rules version with its registration,
the 机关工委's is the default; the same events give each agency the indices of its own rules
(the hand-computed quarter of scenario.py, under 2026.1 and 2027.1); an unknown version is
refused with its reason; a change applies from the earliest open quarter, never to a closed
one; a restart keeps each agency's rules."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mingdeng.contracts.codec import serialize_event
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.rules_versions import RULES_VERSIONS
from mingdeng.contracts.topics import DEAD_LETTER, EVENT_STATUS, SELECTIONS
from mingdeng.scoring.domain.rules import RULES_DIR, Rules, shipped_rules
from mingdeng.scoring.service import ScoringService
from tests.support.builders import Events, at
from tests.support.records import PARTITIONS, Log
from tests.unit.scoring.scenario import BY_RULES_VERSION, quarter_events
from tests.unit.scoring.test_agencies import values

Q3, Q4 = Quarter(2026, 3), Quarter(2026, 4)
AGENCIES = {"czj": None, "sfj": "2026.1", "swj": "2027.1"}  # None: the 机关工委's


def service_for(rules: Rules) -> ScoringService:
    return ScoringService(rules, PARTITIONS, clock=lambda: at("2026-10-20 10:00"))


def indices(scores: dict[str, dict], agency: str) -> tuple[dict, dict, float]:
    def index(level: str, subject: str) -> float:
        return float(scores[f"{agency}/2026Q3/{level}/{subject}"]["index"])

    return (
        {m: index("member", m) for m in "ABC"},
        {d: index("department", d) for d in ("d1", "d2")},
        index("branch", "b1"),
    )


def expected(version: str) -> tuple[dict, dict, float]:
    oracle = BY_RULES_VERSION[version]
    return oracle.vanguard, oracle.fortress, round(oracle.branch, 2)


def test_the_shipped_rules_files_are_the_contracts_versions() -> None:
    assert tuple(shipped_rules()) == RULES_VERSIONS
    first, later = shipped_rules()["2026.1"], shipped_rules()["2027.1"]
    # the one documented difference (rules-2027.1.toml): 20 discipline points per violation
    assert later.vanguard == replace(first.vanguard, discipline_per_violation=20.0)
    assert replace(later, version=first.version, vanguard=first.vanguard) == first


def test_a_rules_file_whose_version_is_not_listed_stops_scoring(tmp_path: Path) -> None:
    for version in RULES_VERSIONS:
        name = f"rules-{version}.toml"
        (tmp_path / name).write_text((RULES_DIR / name).read_text(encoding="utf-8"))
    (tmp_path / "rules-2099.1.toml").write_text("")
    with pytest.raises(ValueError, match=r"rules-2099\.1\.toml"):
        shipped_rules(tmp_path)


def test_the_same_events_give_each_agency_the_indices_of_its_rules(rules: Rules) -> None:
    service, log = service_for(rules), Log()
    for agency, version in AGENCIES.items():
        e = Events(agency=agency)
        log.extend([e.agency_registered("2026-06-01 08:00", version), *quarter_events(e)])
    out = service.take(log.interleaved([0, 1, 2, 3] * 40))
    out += service.publish_changes(everything=True)
    scores = values(out)
    for agency, version in AGENCIES.items():
        assert indices(scores, agency) == expected(version or rules.version), agency
        named = {s["rules_version"] for k, s in scores.items() if k.startswith(f"{agency}/")}
        assert named == {version or rules.version}
        selection = values(out, SELECTIONS.name)[f"{agency}/2026Q3"]
        assert selection["rules_version"] == (version or rules.version)
        assert [m["member_id"] for m in selection["exemplars"]] == ["A"]


def test_an_unknown_rules_version_is_dead_lettered_with_its_reason(rules: Rules) -> None:
    service, log, e = service_for(rules), Log(), Events(agency="czj")
    service.take(log.extend(quarter_events(e)))
    unknown = serialize_event(e.agency_registered("2026-09-01 08:00", "2027.1"))
    unknown = unknown.replace(b'"2027.1"', b'"2099.1"')
    out = service.take([log.append(unknown, key=b"czj")])
    [letter] = [json.loads(p.value) for p in out if p.topic == DEAD_LETTER and p.value]
    assert [r["field"] for r in letter["reasons"]] == ["data.rules_version"]
    assert "'2026.1' or '2027.1'" in letter["reasons"][0]["message"]
    [status] = [json.loads(p.value) for p in out if p.topic == EVENT_STATUS and p.value]
    assert status["status"] == "rejected"
    assert service.engine_of("czj").rules == rules  # nothing adopted


def test_a_change_of_version_applies_from_the_earliest_open_quarter_never_to_a_closed_one(
    rules: Rules,
) -> None:
    service, log, e = service_for(rules), Log(), Events(agency="czj")
    service.take(log.extend(quarter_events(e)))
    service.take([log.append(e.close("2026Q3", "2026-10-11 00:00"))])
    fourth = [e.violation("v4", "B", "2026-11-02 10:00"), e.volunteer("A", "2026-11-03 10:00")]
    service.take(log.extend(fourth))
    service.publish_changes(everything=True)
    final_b = service.engine_of("czj").standings(Q3).member("B")
    assert final_b is not None and final_b.index == 69.0

    out = service.take([log.append(e.agency_registered("2026-11-05 09:00", "2027.1"))])
    out += service.publish_changes(everything=True)
    changed = values(out)
    assert not [k for k in changed if k.startswith("czj/2026Q3/")]  # the closed quarter: as it was
    assert changed["czj/2026Q4/member/B"]["components"]["discipline"] == 0.0  # 20 − 20 × 1
    assert {s["rules_version"] for s in changed.values()} == {"2027.1"}
    assert values(out, SELECTIONS.name)["czj/2026Q4"]["rules_version"] == "2027.1"
    assert service.engine_of("czj").standings(Q3).rules_version == rules.version

    older = e.agency_registered("2026-11-04 09:00")  # read later, but older: does not hold
    assert service.take([log.append(older)])
    assert service.engine_of("czj").rules.version == "2027.1"
    back = service.take([log.append(e.agency_registered("2026-11-06 09:00"))])  # the default
    back += service.publish_changes()
    assert values(back)["czj/2026Q4/member/B"]["components"]["discipline"] == 10.0


def test_a_restart_keeps_each_agencys_rules(rules: Rules) -> None:
    service, log = service_for(rules), Log()
    for agency, version in AGENCIES.items():
        e = Events(agency=agency)
        log.extend([e.agency_registered("2026-06-01 08:00", version), *quarter_events(e)[:20]])
    records = log.interleaved([])
    service.take(records)
    blob = service.checkpoint()

    resumed = service_for(rules)
    assert resumed.restore(blob)
    for agency, version in AGENCIES.items():
        assert resumed.engine_of(agency).rules == service.engine_of(agency).rules
        assert resumed.engine_of(agency).rules.version == (version or rules.version)
    rest = [
        event
        for agency in AGENCIES
        for event in quarter_events(Events(agency=agency, prefix="r"))[20:]
    ]
    out = resumed.take(log.extend(rest))  # the rest of the quarter, after the restart
    scores = values(out + resumed.publish_changes(everything=True))
    for agency, version in AGENCIES.items():
        assert indices(scores, agency) == expected(version or rules.version), agency

    # a version's rules file changed without a new version: the state is not resumed (replay)
    edited = replace(shipped_rules()["2027.1"], selections=replace(rules.selections, exemplars=5))
    assert not ScoringService(edited, PARTITIONS).restore(blob)

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mingdeng.contracts.derived import IndexScore, QuarterSelection, YearTopTen
from mingdeng.contracts.topics import EVENT_STATUS, SCORES, SELECTIONS
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events, at
from tests.unit.scoring.scenario import EXPECTED_V, quarter_events


def by_key(outgoing: list) -> dict[tuple[str, str], dict]:
    return {(o.topic.name, o.key): json.loads(o.value) for o in outgoing}


def test_flush_publishes_scores_selections_and_top_ten_then_only_what_changed(rules: Rules) -> None:
    service = ScoringService(rules)
    e = Events()
    for event in quarter_events(e):
        service.handle(event)
    first = by_key(service.flush())
    a = IndexScore.model_validate(first[(SCORES.name, "2026Q3/member/A")])
    assert (a.rank, a.index, a.status, a.rules_version) == (1, 98.0, "provisional", "2026.1")
    assert a.components == {"performance": 38.0, "study": 20.0, "service": 20.0, "discipline": 20.0}
    branch = IndexScore.model_validate(first[(SCORES.name, "2026Q3/branch/b1")])
    assert branch.index == 64.27 and branch.details["departments"] == ["d1", "d2"]
    selection = QuarterSelection.model_validate(first[(SELECTIONS.name, "2026Q3")])
    assert [m.member_id for m in selection.exemplars] == ["A"]
    assert YearTopTen.model_validate(first[(SELECTIONS.name, "2026")]).members[0].member_id == "A"

    assert service.flush() == []  # nothing happened
    service.handle(e.volunteer("C", "2026-09-01 10:00"))  # C: +2; ranks do not move
    changed = by_key(service.flush())
    assert set(changed) == {
        (SCORES.name, "2026Q3/member/C"),
        (SCORES.name, "2026Q3/department/d2"),
        (SCORES.name, "2026Q3/branch/b1"),
        (SELECTIONS.name, "2026Q3"),  # it shows d2's index as an excellent department
    }
    assert changed[(SCORES.name, "2026Q3/member/C")]["index"] == EXPECTED_V["C"] + 2


def test_every_event_gets_a_status_and_duplicates_are_not_stored_again(rules: Rules) -> None:
    service = ScoringService(rules, clock=lambda: datetime(2026, 11, 1, tzinfo=UTC))
    event = quarter_events()[3]
    first, again = service.handle(event), service.handle(event)
    assert first.status.topic == EVENT_STATUS
    assert json.loads(first.status.value)["detail"] == "new"
    assert json.loads(again.status.value)["detail"] == "duplicate"
    assert first.ledger_entry is not None and again.ledger_entry is None


def test_restore_from_ledger_and_snapshots_gives_the_same_published_results(rules: Rules) -> None:
    clock = lambda: datetime(2026, 10, 20, tzinfo=UTC)  # noqa: E731
    live = ScoringService(rules, clock=clock)
    e = Events()
    ledger, finals = [], []
    late = e.violation("late", "A", "2026-09-30 10:00")
    for event in [
        *quarter_events(e),
        e.close("2026Q3", "2026-10-11 00:00"),
        late,
        e.volunteer("A", "2026-10-02 10:00"),
    ]:
        handled = live.handle(event)
        if handled.ledger_entry:
            ledger.append(handled.ledger_entry)
        if handled.final_snapshot:
            finals.append(handled.final_snapshot)
    expected = by_key(live.flush())

    restored = ScoringService(rules, clock=clock)
    assert not restored.restored
    restored.restore(ledger, finals)
    assert restored.restored
    assert by_key(restored.flush()) == expected
    selection = expected[(SELECTIONS.name, "2026Q3")]
    assert selection["status"] == "final"
    assert [x["id"] for x in selection["late_events"]] == [late.id]


def test_the_platform_closes_a_quarter_once_ten_days_after_it_ended(rules: Rules) -> None:
    now = {"value": at("2026-09-20 10:00")}
    service = ScoringService(rules, clock=lambda: now["value"])
    service.handle(Events().member("A", "d1", "2026-09-01 09:00"))  # running since 2026-09-20
    assert service.due_closes(at("2026-10-10 23:00")) == []
    [close] = service.due_closes(at("2026-10-11 00:00"))
    assert (close.subject, close.id, close.source) == (
        "2026Q3",
        "close-2026Q3",
        "/mingdeng/scoring",
    )
    assert service.due_closes(at("2026-10-12 00:00")) == []  # asked for already


def test_history_loaded_after_a_quarter_ended_is_not_closed_by_the_platform(rules: Rules) -> None:
    service = ScoringService(rules, clock=lambda: at("2026-11-01 10:00"))
    for event in quarter_events():  # Q3 activity, received in November
        service.handle(event)
    assert service.due_closes(at("2026-12-31 00:00")) == []


def test_rules_file_refuses_unknown_and_missing_settings(rules: Rules) -> None:
    text = DEFAULT_RULES.read_text()
    with pytest.raises(ValueError, match="unknown VanguardRules settings: \\['bonus'\\]"):
        Rules.from_toml(text.replace("[vanguard]", "[vanguard]\nbonus = 1"))
    with pytest.raises(ValueError, match="missing FortressRules settings: \\['team_weight'\\]"):
        Rules.from_toml(text.replace("team_weight = 0.3", ""))
    assert Rules.from_toml(text) == rules

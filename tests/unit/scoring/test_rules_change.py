"""Issue 12, part 6: rules can evolve. A closed quarter's finals stay as computed under the rules
of their close, across a rules change and across components added or dropped since; the open
quarter is scored under the new rules."""

from __future__ import annotations

import json
import pickle

from mingdeng.contracts.derived import IndexScore
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import SCORES
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events, at
from tests.support.records import PARTITIONS, Log
from tests.unit.scoring.scenario import quarter_events

Q3, Q4 = Quarter(2026, 3), Quarter(2026, 4)


def later_rules() -> Rules:
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    text = text.replace('version = "2026.1"', 'version = "2027.1"')
    return Rules.from_toml(text.replace("volunteer_points = 2.0", "volunteer_points = 3.0"))


def as_saved_before_a_component_was_added(blob: bytes) -> bytes:
    """The checkpoint as rules without a `service` component, and with a `legacy` one since
    dropped, would have written it."""
    outer = pickle.loads(blob)
    finals = json.loads(outer["finals"])
    for member in finals["quarters"]["2026Q3"]["members"]:
        member["legacy"] = member.pop("service")
    outer["finals"] = json.dumps(finals).encode()
    return pickle.dumps(outer)


def test_finals_stay_as_closed_when_the_rules_change_and_the_open_quarter_moves(
    rules: Rules,
) -> None:
    e = Events()
    log = Log()
    log.extend(quarter_events(e))
    log.close(e.close("2026Q3", "2026-10-11 00:00"))
    log.extend([e.volunteer("A", "2026-11-02 10:00"), e.volunteer("B", "2026-11-03 10:00")])
    everything = log.interleaved([])

    before = ScoringService(rules, PARTITIONS, clock=lambda: at("2026-11-20 10:00"))
    before.take(everything)
    closed, running = before.engine.standings(Q3), before.engine.standings(Q4)
    blob = as_saved_before_a_component_was_added(before.checkpoint())

    after = ScoringService(later_rules(), PARTITIONS, clock=lambda: at("2026-11-20 10:00"))
    assert not after.restore(blob)  # another rules version: the log is replayed
    assert after.keep_finals_of(blob) == 1
    published = after.take(everything) + after.publish_changes()

    final = after.engine.standings(Q3)
    assert final.rules_version == "2026.1" and final.status == "final"
    assert [(m.member_id, m.index) for m in final.members] == [
        (m.member_id, m.index) for m in closed.members
    ]
    assert final.exemplars == closed.exemplars
    assert {m.service for m in final.members} == {0.0}  # a component those rules did not have
    assert final.departments == closed.departments

    moved = after.engine.standings(Q4)
    assert moved.rules_version == "2027.1"
    volunteer = {m.member_id: m.service for m in moved.members}
    assert (volunteer["A"], volunteer["B"]) == (3.0, 3.0)
    assert {m.member_id: m.service for m in running.members}["A"] == 2.0

    q4_scores = [
        IndexScore.model_validate_json(p.value)
        for p in published
        if p.topic == SCORES and p.value and p.key.startswith(b"2026Q4/member/")
    ]
    assert q4_scores and {s.rules_version for s in q4_scores} == {"2027.1"}


def test_a_checkpoint_no_version_can_read_is_replayed_not_fatal(rules: Rules) -> None:
    service = ScoringService(rules, PARTITIONS)
    assert not service.restore(b"not a checkpoint")
    assert service.keep_finals_of(b"not a checkpoint") == 0

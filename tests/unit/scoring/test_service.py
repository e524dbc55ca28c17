from __future__ import annotations

import base64
import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from mingdeng.contracts import events as ev
from mingdeng.contracts.closing import EARLY_CLOSE
from mingdeng.contracts.derived import (
    EventStatus,
    IndexScore,
    QuarterSelection,
    RankingChunk,
    RankingSizes,
    YearTopTen,
)
from mingdeng.contracts.periods import Quarter
from mingdeng.contracts.topics import (
    BARRIER_HEADER,
    DEAD_LETTER,
    EVENT_STATUS,
    EVENTS,
    MAX_REQUEST_BYTES,
    RANKINGS,
    SCORES,
    SELECTIONS,
)
from mingdeng.runtime.stream import Publication
from mingdeng.scoring.domain.rules import Rules
from mingdeng.scoring.service import ScoringService
from mingdeng.scoring.settings import DEFAULT_RULES
from tests.support.builders import Events, at
from tests.support.records import PARTITIONS, Log
from tests.unit.scoring.scenario import EXPECTED_V, quarter_events


def by_key(publications: list[Publication]) -> dict[tuple[str, str], dict | None]:
    return {
        (p.topic.name, p.key.decode()): json.loads(p.value) if p.value else None
        for p in publications
    }


def statuses(publications: list[Publication]) -> dict[str, EventStatus]:
    return {
        p.key.decode(): EventStatus.model_validate_json(p.value)
        for p in publications
        if p.topic == EVENT_STATUS and p.value
    }


def service_for(rules: Rules, now: str = "2026-10-20 10:00") -> ScoringService:
    return ScoringService(rules, PARTITIONS, clock=lambda: at(now))


def test_changes_publish_scores_ranking_selection_and_top_ten_then_only_what_changed(
    rules: Rules,
) -> None:
    service, log, e = service_for(rules), Log(), Events()
    service.take(log.extend(quarter_events(e)))
    first = by_key(service.publish_changes())
    a = IndexScore.model_validate(first[(SCORES.name, "2026Q3/member/A")])
    assert (a.index, a.status, a.rules_version) == (98.0, "provisional", "2026.1")
    assert a.components == {"performance": 38.0, "study": 20.0, "service": 20.0, "discipline": 20.0}
    branch = IndexScore.model_validate(first[(SCORES.name, "2026Q3/branch/b1")])
    assert branch.index == 64.27 and branch.details["departments"] == 2
    selection = QuarterSelection.model_validate(first[(SELECTIONS.name, "2026Q3")])
    assert [m.member_id for m in selection.exemplars] == ["A"]
    assert selection.ranked == RankingSizes(member=3, department=2, branch=1)
    member_chunk = RankingChunk.model_validate(first[(RANKINGS.name, "2026Q3/member/0")])
    assert (member_chunk.first_rank, member_chunk.ids) == (1, ["A", "B", "C"])
    assert RankingChunk.model_validate(first[(RANKINGS.name, "2026Q3/department/0")]).ids == [
        "d1",
        "d2",
    ]
    assert YearTopTen.model_validate(first[(SELECTIONS.name, "2026")]).members[0].member_id == "A"

    assert service.publish_changes() == []  # nothing happened
    service.take([log.append(e.volunteer("C", "2026-09-01 10:00"))])  # C: +2; no rank moves
    changed = by_key(service.publish_changes())
    assert set(changed) == {
        (SCORES.name, "2026Q3/member/C"),
        (SCORES.name, "2026Q3/department/d2"),
        (SCORES.name, "2026Q3/branch/b1"),
        (SELECTIONS.name, "2026Q3"),  # it shows d2's index as an excellent department
    }
    assert changed[(SCORES.name, "2026Q3/member/C")]["index"] == EXPECTED_V["C"] + 2  # type: ignore[index]


def test_selections_follow_scores_at_most_once_per_interval(rules: Rules) -> None:
    now = [at("2026-10-20 10:00")]
    service = ScoringService(
        rules, PARTITIONS, clock=lambda: now[0], selection_interval=timedelta(seconds=1)
    )
    log, e = Log(), Events()
    service.take(log.extend(quarter_events(e)))
    assert (SELECTIONS.name, "2026Q3") in by_key(service.publish_changes())  # the first at once

    service.take([log.append(e.volunteer("C", "2026-09-01 10:00"))])
    soon = by_key(service.publish_changes())
    assert (SCORES.name, "2026Q3/member/C") in soon  # a score goes out as it changes
    assert not any(topic == SELECTIONS.name for topic, _ in soon)  # its selection waits
    assert not service.has_unpublished_changes

    assert service.owes_publications  # a worker that stops publishes it before it goes
    now[0] += timedelta(seconds=1)
    assert service.has_unpublished_changes  # the worker comes back for it without input
    later = by_key(service.publish_changes())
    assert set(later) == {(SELECTIONS.name, "2026Q3")}
    assert service.publish_changes() == []


def test_a_member_who_leaves_is_removed_with_a_tombstone(rules: Rules) -> None:
    service, log, e = service_for(rules), Log(), Events()
    service.take(log.extend(quarter_events(e)))
    service.publish_changes()
    service.take([log.append(e(ev.MemberLeft(member_id="C"), "2026-09-05 09:00"))])
    changed = by_key(service.publish_changes())
    assert changed[(SCORES.name, "2026Q3/member/C")] is None
    assert QuarterSelection.model_validate(changed[(SELECTIONS.name, "2026Q3")]).ranked.member == 2
    assert RankingChunk.model_validate(changed[(RANKINGS.name, "2026Q3/member/0")]).ids == [
        "A",
        "B",
    ]


def test_every_event_gets_one_status_that_says_what_it_feeds(rules: Rules) -> None:
    service, log = service_for(rules), Log()
    events = quarter_events()
    out = statuses(service.take(log.extend(events)))
    assert set(out) == {f"{e.source} {e.id}" for e in events}
    visit = out[f"{events[17].source} {events[17].id}"]
    assert (visit.status, visit.detail) == ("applied", "new")
    assert [(c.quarter, c.level, c.id, c.component) for c in visit.counts_for] == [
        ("2026Q3", "member", "A", "service")
    ]
    again = service.take(log.extend(events[:5]))
    assert statuses(again) == {}  # a re-sent event counts once and keeps its first status


def test_a_record_that_is_not_an_event_is_dead_lettered_with_its_reason(rules: Rules) -> None:
    service, log = service_for(rules), Log()
    garbage = b'{"source": "/systems/x", "id": "bad-1", "specversion": "1.0", "\\u0000": 1}'
    out = service.take([log.append(garbage, 2), log.append(b"\xff\xfe not json", 2)])
    letters = [p for p in out if p.topic == DEAD_LETTER]
    assert len(letters) == 2
    rejected = statuses(out)["/systems/x bad-1"]
    assert rejected.status == "rejected" and rejected.reasons
    assert service.next_offsets() == {2: 2}  # and the consumer moves on


def test_a_close_waits_until_every_partition_has_reached_its_barrier(rules: Rules) -> None:
    """The issue-16 race: registry and activity accepted before the close sit behind a busy
    partition; the close is read first on an idle one. They must still count."""
    e = Events()
    log = Log()
    registry = quarter_events(e)[:9]
    for event in registry[:6]:
        log.append(event, 0)
    for event in registry[6:]:  # households and pairings: on the busy partition 1
        log.append(event, 1)
    log.append(e.household_visit("A", "h1", "2026-07-02 10:00"), 1)
    log.close(e.close("2026Q3", "2026-10-11 00:00"))
    after = e.volunteer("A", "2026-09-30 10:00")  # accepted after the close
    log.append(after, 0)

    service = service_for(rules)
    # partition 0 (with its copy) and 2, 3 are read before the busy partition 1
    order = [0] * 8 + [2, 3] + [1] * 8
    out = service.take(log.interleaved(order))
    final = QuarterSelection.model_validate(by_key(out)[(SELECTIONS.name, "2026Q3")])
    assert final.status == "final"
    a = IndexScore.model_validate(by_key(out)[(SCORES.name, "2026Q3/member/A")])
    assert a.components["service"] == 5.0  # the visit to h1 counted: paired before the close
    assert a.status == "final"
    late = statuses(out)[f"{after.source} {after.id}"]
    assert (late.detail, late.late_for) == ("late", "2026Q3")
    assert service.next_offsets() == {p: len(log.records[p]) for p in range(PARTITIONS)}


def test_a_partition_at_its_barrier_is_held_and_committed_only_up_to_the_copy(
    rules: Rules,
) -> None:
    e = Events()
    log = Log()
    copies = log.close(e.close("2026Q3", "2026-10-11 00:00"))
    behind = log.append(e.volunteer("A", "2026-09-30 10:00"), 0)
    service = service_for(rules)
    service.take([copies[0], behind])
    assert service.blocked_partitions == {0}
    assert service.next_offsets() == {0: copies[0].offset}  # neither the copy nor what follows
    service.take(copies[1:])
    assert service.blocked_partitions == set()
    assert service.next_offsets() == {0: behind.offset + 1, 1: 1, 2: 1, 3: 1}


def test_a_close_straight_from_kafka_gets_its_copies_written_by_scoring(rules: Rules) -> None:
    e = Events()
    log = Log()
    close = log.append(e.close("2026Q3", "2026-10-11 00:00"), 2)  # no barrier header
    service = service_for(rules)
    out = service.take([close])
    copies = [p for p in out if p.topic == EVENTS]
    assert sorted(p.partition for p in copies) == [0, 1, 3]  # type: ignore[type-var]
    assert all(dict(p.headers)[BARRIER_HEADER] == b"1" for p in copies)
    assert copies[0].value == close.value
    assert service.blocked_partitions == {2}
    for copy in copies:
        assert copy.partition is not None and copy.value is not None
        service.take([log.append(copy.value, copy.partition, barrier=True, key=copy.key)])
    assert service.blocked_partitions == set()
    assert service.engine.finals.keys() == {Quarter(2026, 3)}


def test_a_barrier_left_incomplete_gets_its_missing_copies_after_the_timeout(
    rules: Rules,
) -> None:
    e = Events()
    log = Log()
    now = {"value": at("2026-10-20 10:00")}
    service = ScoringService(
        rules, PARTITIONS, clock=lambda: now["value"], barrier_timeout=timedelta(seconds=60)
    )
    close = e.close("2026Q3", "2026-10-11 00:00")
    service.take([log.append(close, 0, barrier=True), log.append(close, 3, barrier=True)])
    assert service.due(now["value"]) == []
    now["value"] += timedelta(seconds=61)
    missing = [p for p in service.due(now["value"]) if p.topic == EVENTS]
    assert sorted(p.partition for p in missing) == [1, 2]  # type: ignore[type-var]
    assert service.due(now["value"]) == []  # once


def test_the_platform_closes_a_quarter_once_ten_days_after_it_ended(rules: Rules) -> None:
    e = Events()
    service = service_for(rules)
    service.take([Log().append(e.volunteer("A", "2026-09-20 10:00"))])  # running since 09-20
    assert service.due(at("2026-10-10 23:59")) == []
    due = service.due(at("2026-10-11 00:00"))
    assert sorted(p.partition for p in due) == list(range(PARTITIONS))  # type: ignore[type-var]
    close = json.loads(due[0].value)  # type: ignore[arg-type]
    assert (close["type"], close["id"], close["data"]) == (
        "mingdeng.quarter.closed.v1",
        "close-2026Q3",
        {"quarter": "2026Q3"},
    )
    assert service.due(at("2026-10-12 00:00")) == []  # asked once


def test_history_loaded_after_a_quarter_ended_is_not_closed_by_the_platform(rules: Rules) -> None:
    e = Events()
    service = service_for(rules)
    service.take([Log().append(e.volunteer("A", "2026-11-01 10:00"))])
    assert service.due(at("2026-11-01 10:00")) == []


def test_a_restart_from_a_checkpoint_publishes_what_an_uninterrupted_run_does(rules: Rules) -> None:
    e = Events()
    log = Log()
    events = quarter_events(e)
    first, second = events[:20], events[20:]
    log.extend(first)
    mark = {p: len(records) for p, records in log.records.items()}
    log.extend(second)
    log.close(e.close("2026Q3", "2026-10-11 00:00"))
    log.append(e.volunteer("A", "2026-11-02 10:00"))
    everything = log.interleaved([])

    straight = service_for(rules)
    expected = straight.take(everything) + straight.publish_changes()

    interrupted = service_for(rules)
    interrupted.take([r for r in everything if r.offset < mark.get(r.partition, 0)])
    interrupted.publish_changes()
    blob = interrupted.checkpoint()
    committed = {p: len(records) - 1 for p, records in log.records.items()}  # all but the last

    restarted = service_for(rules)
    assert restarted.restore(blob)
    restarted.replaying_until(committed)
    start = restarted.next_offsets()
    again = restarted.take([r for r in everything if r.offset >= start.get(r.partition, 0)])
    again += restarted.publish_changes()
    # statuses only for the records at or above the committed offsets, as the first run had them
    tail = [r for r in everything if r.offset >= committed[r.partition]]
    tail_keys = {"{source} {id}".format(**json.loads(r.value)) for r in tail if r.value}
    assert set(statuses(again)) == tail_keys
    assert statuses(again) == {k: v for k, v in statuses(expected).items() if k in tail_keys}
    # ... and the state, scores and final results are those of the uninterrupted run
    assert restarted.engine.finals == straight.engine.finals
    q4 = Quarter(2026, 4)
    assert restarted.engine.standings(q4) == straight.engine.standings(q4)
    replayed = {(p.topic, p.key): p.value for p in again if p.topic in (SCORES, SELECTIONS)}
    assert replayed == {
        (p.topic, p.key): p.value
        for p in expected
        if p.topic in (SCORES, SELECTIONS) and (p.topic, p.key) in replayed
    }


def test_a_checkpoint_of_other_rules_is_refused(rules: Rules) -> None:
    service = service_for(rules)
    service.take(Log().extend(quarter_events()))
    blob = service.checkpoint()
    text = DEFAULT_RULES.read_text(encoding="utf-8")
    other = Rules.from_toml(text.replace('version = "2026.1"', 'version = "2027.1"'))
    assert not ScoringService(other, PARTITIONS).restore(blob)
    assert ScoringService(rules, PARTITIONS).restore(blob)


def test_statuses_of_late_events_say_why(rules: Rules) -> None:
    e = Events()
    log = Log()
    service = ScoringService(rules, PARTITIONS, clock=lambda: datetime(2026, 10, 20, tzinfo=UTC))
    service.take(log.extend(quarter_events(e)))
    service.take(log.close(e.close("2026Q3", "2026-10-11 00:00")))
    late = e.violation("vA", "A", "2026-09-30 10:00")
    status = statuses(service.take([log.append(late)]))[f"{late.source} {late.id}"]
    assert (status.status, status.detail, status.late_for) == ("applied", "late", "2026Q3")
    assert "2026Q3 was closed" in status.reasons[0]["message"]


def test_an_early_close_is_refused_unless_it_gives_its_reason(rules: Rules) -> None:
    e = Events()
    log = Log()
    service = ScoringService(rules, PARTITIONS, clock=lambda: datetime(2026, 9, 26, tzinfo=UTC))
    service.take(log.extend(quarter_events(e)))
    bare = e.close("2026Q3", "2026-09-25 10:00")
    refused = statuses(service.take(log.close(bare)))[f"{bare.source} {bare.id}"]
    assert refused.status == "rejected" and "earlyclose" in refused.reasons[0]["message"]
    early = replace(e.close("2026Q3", "2026-09-25 11:00"), extensions={EARLY_CLOSE: "提前评选"})
    out = service.take(log.close(early))
    assert statuses(out)[f"{early.source} {early.id}"].status == "applied"
    final = QuarterSelection.model_validate(by_key(out)[(SELECTIONS.name, "2026Q3")])
    assert final.status == "final"


def test_closes_of_two_quarters_whose_copies_cross_do_not_wait_for_each_other(
    rules: Rules,
) -> None:
    """Two writers published a close of Q2 and one of Q3 at once: Q2's copy is first on
    partitions 0 and 1, Q3's first on 2 and 3. Each would wait for the other forever."""
    e = Events()
    log = Log()
    log.extend(quarter_events(e))
    q2, q3 = e.close("2026Q2", "2026-10-11 00:00"), e.close("2026Q3", "2026-10-11 00:00")
    between = e.violation("v-between", "A", "2026-09-29 10:00")
    for p in range(PARTITIONS):
        first, second = (q2, q3) if p < 2 else (q3, q2)
        log.append(first, p, barrier=True)
        if p == 1:
            log.append(between, p)  # after Q2's copy, before Q3's: accepted before Q3's close
        log.append(second, p, barrier=True)
    for order in ([0, 1, 2, 3] * 20, [3, 2, 1, 0] * 20, [2, 0, 3, 1] * 20):
        service = service_for(rules)
        out = service.take(log.interleaved(order))
        assert service.blocked_partitions == set()
        assert service.engine.finals.keys() == {Quarter(2026, 2), Quarter(2026, 3)}
        assert service.next_offsets() == {p: len(log.records[p]) for p in range(PARTITIONS)}
        closes = {k: v for k, v in statuses(out).items() if "close" in (v.type or "")}
        assert len(closes) == 2
        # Q2 (the earlier quarter) took Q3's copies as its cut on partitions 2 and 3; the
        # volunteering on partition 1 sits before Q3's copy there, so it counts for Q3
        a = service.engine.finals[Quarter(2026, 3)].member("A")
        assert a is not None and a.discipline == 10.0


def test_two_closes_of_one_quarter_share_one_barrier(rules: Rules) -> None:
    e = Events()
    admin, platform = Events(source="/systems/admin"), Events(source="/mingdeng/scoring")
    log = Log()
    by_admin, by_platform = (
        admin.close("2026Q3", "2026-10-11 00:00"),
        platform.close("2026Q3", "2026-10-11 00:00"),
    )
    for p in range(PARTITIONS):
        first, second = (by_admin, by_platform) if p % 2 else (by_platform, by_admin)
        log.append(first, p, barrier=True)
        log.append(second, p, barrier=True)
    log.append(e.volunteer("A", "2026-09-29 10:00"), 0)
    service = service_for(rules)
    out = service.take(log.interleaved([0, 1, 2, 3] * 3))
    assert service.blocked_partitions == set()
    closes = statuses(out)
    assert {closes[f"{x.source} {x.id}"].status for x in (by_admin, by_platform)} == {"applied"}
    late = [s for s in closes.values() if s.detail == "late"]
    assert len(late) == 1


def test_records_behind_a_barrier_replayed_after_a_restart_keep_their_statuses(
    rules: Rules,
) -> None:
    """The barrier completes while the restarted service replays what it had committed; the
    records it held there that were never committed must still get their statuses."""
    e = Events()
    log = Log()
    log.extend(quarter_events(e))
    before = {p: len(records) for p, records in log.records.items()}
    log.close(e.close("2026Q3", "2026-10-11 00:00"))
    after = [
        e.volunteer("A", f"2026-10-{day:02d} 10:00") for _ in range(PARTITIONS) for day in (12, 13)
    ]
    for n, event in enumerate(after):
        log.append(event, n // 2)

    first = service_for(rules)
    first.take([r for r in log.interleaved([]) if r.offset < before.get(r.partition, 0)])
    blob = first.checkpoint()
    # the first worker went on past the barrier on partition 0 only before it was killed
    committed = {p: len(log.records[p]) - 2 for p in range(PARTITIONS)}
    committed[0] = len(log.records[0]) - 1

    restarted = service_for(rules)
    assert restarted.restore(blob)
    restarted.replaying_until(committed)
    start = restarted.next_offsets()
    order = [1, 2, 3] * 10 + [0] * 10  # partition 0, the one ahead, is read last
    out = restarted.take(
        [r for r in log.interleaved(order) if r.offset >= start.get(r.partition, 0)]
    )
    expected = {f"{x.source} {x.id}" for x in after[1:]}  # the first: below the committed offset
    assert set(statuses(out)) == expected


def test_a_dead_letter_keeps_the_refused_bytes_exactly(rules: Rules) -> None:
    raw = b"\xff\x00{not json at all\xfe"
    [letter] = [
        p for p in service_for(rules).take([Log().append(raw, 1)]) if p.topic == DEAD_LETTER
    ]
    assert letter.value is not None
    document = json.loads(letter.value)
    assert base64.b64decode(document["raw_base64"]) == raw
    assert document["reasons"] and document["partition"] == 1


def test_no_message_grows_with_the_organisation(rules: Rules) -> None:
    """100,000 members in one quarter: the selection and every chunk of the ranking fit well
    within the producer's limit, and the chunks hold the whole ranking in order."""
    service, log, e = service_for(rules), Log(), Events()
    members = 100_000
    service.take(
        log.extend(
            [e.branch("b1", "2026-07-01 09:00"), e.department("d1", "b1", "2026-07-01 09:00")]
        )
    )
    service.take(log.extend(
        e.member(f"member-{n:06d}", "d1", "2026-07-01 09:00", phone=None) for n in range(members)
    ))  # fmt: skip
    service.take([log.append(e.delivered("lecture-1", "member-000000", "2026-08-03 10:00"))])
    published = service.publish_changes(everything=True)
    largest = max(len(p.key) + len(p.value or b"") for p in published)
    assert largest < MAX_REQUEST_BYTES // 4
    selection = QuarterSelection.model_validate_json(
        next(p.value for p in published if p.topic is SELECTIONS and p.key == b"2026Q3") or b""
    )
    assert selection.ranked.member == members
    chunks = sorted(
        (
            RankingChunk.model_validate_json(p.value or b"")
            for p in published
            if p.topic is RANKINGS
        ),
        key=lambda chunk: (chunk.level, chunk.chunk),
    )
    ranked = [m for chunk in chunks if chunk.level == "member" for m in chunk.ids]
    assert len(ranked) == members and len(set(ranked)) == members
    member_chunks = [c for c in chunks if c.level == "member"]
    assert len(member_chunks) > 1
    for before, after in itertools.pairwise(member_chunks):
        assert after.first_rank == before.first_rank + len(before.ids)

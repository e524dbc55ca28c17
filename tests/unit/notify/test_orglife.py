"""Organisational life (issue 24): the rhythm of each meeting kind and the absence flag, worked
by hand on one branch (b1: secretary S1, members M1 and M2), with the notifier's parts against
the store in memory and a fixed clock."""

from __future__ import annotations

from datetime import date

import pytest

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import Event
from mingdeng.contracts.events import EventData, MeetingKind
from mingdeng.notify.domain.orglife import DEFAULT_RHYTHM_FILE, Rhythm, RhythmPeriod
from tests.support.builders import Events
from tests.unit.notify.test_service import Clock, Notifier, bureau

SMS_NOV_COMMITTEE = "meeting_overdue/S1/b1/committee/2026-11"


def meeting(
    e: Events,
    meeting_id: str,
    kind: MeetingKind,
    held_on: str,
    *,
    attendees: tuple[str, ...] = ("S1", "M1", "M2"),
    absentees: tuple[str, ...] = (),
    leaves: tuple[ev.MeetingLeave, ...] = (),
) -> Event[EventData]:
    return e(
        ev.MeetingHeld(
            meeting_id=meeting_id, branch_id="b1", kind=kind, held_on=date.fromisoformat(held_on),
            topic="学习贯彻", attendees=attendees, absentees=absentees, leaves=leaves,
            recorded_by="S1",
        ),
        f"{held_on} 18:00",
    )  # fmt: skip


def every_kind_on_time(e: Events) -> list[Event[EventData]]:
    """b1 holds each kind in 2026Q4 but the 支委会 and 党小组会 and 主题党日 of November."""
    return [
        meeting(e, "ga", "general_assembly", "2026-10-10"),
        meeting(e, "pc", "party_class", "2026-10-11"),
        meeting(e, "g10", "group", "2026-10-12"),
        meeting(e, "g11", "group", "2026-11-12"),
        meeting(e, "t10", "theme_day", "2026-10-15"),
        meeting(e, "t11", "theme_day", "2026-11-15"),
        meeting(e, "c10", "committee", "2026-10-20"),
    ]


def test_the_default_rhythm_is_the_branch_work_regulations() -> None:
    rhythm = Rhythm.load(DEFAULT_RHYTHM_FILE)
    assert rhythm.version == "2026.1"
    assert dict(rhythm.months) == {
        "general_assembly": 3, "committee": 1, "group": 1, "party_class": 3, "theme_day": 1,
    }  # fmt: skip
    with pytest.raises(ValueError, match="1 \\(monthly\\) or 3"):
        Rhythm.from_toml(DEFAULT_RHYTHM_FILE.read_text().replace("committee = 1", "committee = 2"))


@pytest.mark.parametrize(
    ("today", "months", "name", "first", "end"),
    [
        ("2026-12-01", 1, "2026-11", "2026-11-01", "2026-12-01"),
        ("2026-11-30", 1, "2026-10", "2026-10-01", "2026-11-01"),
        ("2027-01-01", 1, "2026-12", "2026-12-01", "2027-01-01"),
        ("2026-12-01", 3, "2026Q3", "2026-07-01", "2026-10-01"),
        ("2027-01-01", 3, "2026Q4", "2026-10-01", "2027-01-01"),
    ],
)
def test_the_last_period_ended(today: str, months: int, name: str, first: str, end: str) -> None:
    period = RhythmPeriod.last_ended(date.fromisoformat(today), months)
    assert (period.name, period.first_day, period.end_day) == (
        name,
        date.fromisoformat(first),
        date.fromisoformat(end),
    )
    assert RhythmPeriod.named(name) == period


async def test_a_committee_on_the_last_day_of_the_month_is_on_time() -> None:
    e, clock = Events(), Clock("2026-12-01 09:00")
    n = Notifier(clock)
    await n.take_events(
        [*bureau(e), *every_kind_on_time(e), meeting(e, "c11", "committee", "2026-11-30")]
    )
    assert await n.service.schedules.run() == ["bulletin 2026-11"]
    assert not [t for t in n.tasks() if t.startswith("meeting/")]


async def test_a_committee_missed_is_overdue_the_next_day_once_with_one_sms() -> None:
    e, clock = Events(), Clock("2026-11-30 23:59")
    n = Notifier(clock)
    await n.take_events([*bureau(e), *every_kind_on_time(e)])
    # still November: October's kinds were held, November's may still be
    assert not [r for r in await n.service.schedules.run() if r.startswith("meeting")]
    clock.set("2026-12-01 09:00")
    ran = await n.service.schedules.run()
    assert [r for r in ran if r.startswith("meeting")] == ["meeting_due b1/committee/2026-11"]
    assert n.tasks()["meeting/b1/committee/2026-11"] == ("S1", "open")
    task = n.stores.tables.tasks["meeting/b1/committee/2026-11"]
    assert (task.branch_id, task.period, task.cause) == ("b1", "2026-11", "committee")
    await n.send_all()
    for later in ("09:30", "10:30", "11:30"):  # after the bulletins' summaries to S1, in limits
        clock.set(f"2026-12-01 {later}")
        await n.send_all()
    assert n.status(SMS_NOV_COMMITTEE) == ("sent", None)
    text = next(m.text for m in n.provider.sent if m.key == SMS_NOV_COMMITTEE)
    assert "支部b1" in text and "2026年11月" in text and "支委会" in text

    # again, and after a restart: not again
    assert not [r for r in await n.service.schedules.run() if r.startswith("meeting")]
    again = Notifier(clock, n.stores, n.provider)
    await again.service.load()
    assert not [r for r in await again.service.schedules.run() if r.startswith("meeting")]
    assert [m.key for m in n.provider.sent].count(SMS_NOV_COMMITTEE) == 1

    # the make-up meeting (补开) closes the task
    await n.take_events([meeting(e, "c11", "committee", "2026-12-03")])
    done = n.stores.tables.tasks["meeting/b1/committee/2026-11"]
    assert (done.status, done.done_at and done.done_at.date()) == ("done", date(2026, 12, 3))


async def test_a_committee_held_in_time_but_recorded_late_closes_the_task() -> None:
    e, clock = Events(), Clock("2026-12-01 09:00")
    n = Notifier(clock)
    await n.take_events([*bureau(e), *every_kind_on_time(e)])
    await n.service.schedules.run()
    await n.take_events([meeting(e, "c11", "committee", "2026-11-28")])
    assert n.tasks()["meeting/b1/committee/2026-11"] == ("S1", "done")


async def test_history_is_not_news_nor_a_branch_that_keeps_no_record_here() -> None:
    e, clock = Events(), Clock("2026-12-01 09:00")
    n = Notifier(clock)
    # a committee missed in September, long past: only November is looked at, and it was held
    await n.take_events(
        [
            *bureau(e),
            meeting(e, "c8", "committee", "2026-08-20"),
            meeting(e, "c10", "committee", "2026-10-20"),
            meeting(e, "c11", "committee", "2026-11-20"),
        ]
    )
    ran = await n.service.schedules.run()
    assert "meeting_due b1/committee/2026-09" not in ran
    assert "meeting_due b1/committee/2026-11" not in ran
    # a bureau whose branches record no meeting is not reminded of any
    quiet = Notifier(clock)
    await quiet.take_events(bureau(Events()))
    assert not [r for r in await quiet.service.schedules.run() if r.startswith("meeting")]


async def test_a_notifier_down_for_a_period_reminds_of_the_latest_one_only() -> None:
    e, clock = Events(), Clock("2027-01-02 09:00")
    n = Notifier(clock)
    await n.take_events([*bureau(e), meeting(e, "c10", "committee", "2026-10-20")])
    ran = [r for r in await n.service.schedules.run() if "committee" in r]
    assert ran == ["meeting_due b1/committee/2026-12"]  # November's is past: not news


def absent_from(e: Events, record: str) -> list[Event[EventData]]:
    """M1's record at monthly 主题党日: 'A' absent, 'P' present, 'G' leave granted, 'R' leave
    refused, on the 10th of each month from January."""
    events = []
    for month, mark in enumerate(record, start=1):
        kwargs: dict[str, object] = {"attendees": ("S1", "M2")}
        if mark == "A":
            kwargs["absentees"] = ("M1",)
        elif mark == "P":
            kwargs["attendees"] = ("S1", "M1", "M2")
        else:
            kwargs["leaves"] = (
                ev.MeetingLeave(member_id="M1", reason="出差", granted=mark == "G"),
            )
        events.append(meeting(e, f"t{month:02d}", "theme_day", f"2026-{month:02d}-10", **kwargs))  # type: ignore[arg-type]
    return events


@pytest.mark.parametrize(
    ("record", "flagged"),
    [
        ("AA", {}),  # two in a row: not yet
        ("AAA", {"absences/M1/t01": ("S1", "open")}),
        ("PAAA", {"absences/M1/t02": ("S1", "open")}),
        ("AAAA", {"absences/M1/t01": ("S1", "open")}),  # one flag for the run
        ("AAAP", {"absences/M1/t01": ("S1", "done")}),  # attended again: done
        ("AAGA", {}),  # leave granted is not an absence, and it ends the run
        ("AARA", {"absences/M1/t01": ("S1", "open")}),  # leave refused is an absence
        ("APAA", {}),
        ("AAAGAAA", {"absences/M1/t01": ("S1", "done"), "absences/M1/t05": ("S1", "open")}),
    ],
)
async def test_three_absences_in_a_row_are_flagged_to_the_secretary(
    record: str, flagged: dict[str, tuple[str, str]]
) -> None:
    e, clock = Events(), Clock("2026-12-01 07:00")
    n = Notifier(clock)
    await n.take_events([*bureau(e), *absent_from(e, record)])
    assert {k: v for k, v in n.tasks().items() if k.startswith("absences/")} == flagged


async def test_a_run_already_over_when_it_is_recorded_is_not_flagged() -> None:
    """Meetings recorded newest first: the member had come back before the absences were
    known, so there is nothing left to flag."""
    e, clock = Events(), Clock("2026-12-01 07:00")
    n = Notifier(clock)
    events = absent_from(e, "AAAP")
    await n.take_events(bureau(e))
    for event in reversed(events):
        await n.take_events([event])
    assert not [k for k in n.tasks() if k.startswith("absences/")]

"""Organisational life (三会一课, 主题党日): the rhythm of each meeting kind, what the notifier
folds of the meetings, and its two rules (docs/notify.md, "Organisational life"):

- a branch that held no meeting of a kind within the kind's period is 未按期 from the next
  day: its secretary gets a `meeting` task, done by the next meeting of that kind, and one SMS;
- a member absent (absent, or on leave not granted) from three meetings in a row is flagged
  to their branch's secretary by an `absences` task, done when the member next attends or is
  granted leave. Leave granted is not an absence, and it ends the run.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Self

from mingdeng.contracts import events as ev
from mingdeng.contracts.envelope import EventKey
from mingdeng.contracts.events import MEETING_KINDS, MeetingKind
from mingdeng.contracts.periods import BUSINESS_TZ, Period

ABSENCES_FLAGGED_AT = 3
PERIOD_MONTHS = (1, 3)  # a month (2026-11) or a quarter (2026Q4): the periods the platform names


@dataclass(frozen=True)
class Rhythm:
    """How many months each meeting kind's period lasts, from the versioned rhythm file."""

    version: str
    months: Mapping[MeetingKind, int]

    @classmethod
    def from_toml(cls, text: str) -> Self:
        document = tomllib.loads(text)
        months = document.get("months", {})
        if set(months) != set(MEETING_KINDS):
            raise ValueError(f"the rhythm names each meeting kind once: {sorted(MEETING_KINDS)}")
        for kind, value in months.items():
            if value not in PERIOD_MONTHS:
                raise ValueError(f"{kind}: a period of 1 (monthly) or 3 (quarterly) months")
        return cls(str(document["version"]), dict(months))

    @classmethod
    def load(cls, path: Path) -> Self:
        return cls.from_toml(path.read_text(encoding="utf-8"))


DEFAULT_RHYTHM_FILE = Path(__file__).parents[1] / "config" / "organisation-life.toml"


@dataclass(frozen=True)
class RhythmPeriod:
    name: str  # 2026-11 or 2026Q4
    first_day: date
    end_day: date  # the first day after it

    @classmethod
    def containing(cls, day: date, months: int) -> RhythmPeriod:
        first_month = (day.month - 1) // months * months + 1
        first = date(day.year, first_month, 1)
        after = date(
            day.year + (first_month + months - 1) // 12, (first_month + months - 1) % 12 + 1, 1
        )
        if months == 1:
            name = f"{day.year:04d}-{first_month:02d}"
        else:
            name = f"{day.year:04d}Q{(first_month - 1) // 3 + 1}"
        return cls(name, first, after)

    @classmethod
    def named(cls, name: str) -> RhythmPeriod:
        period = Period.parse(name)
        return cls(name, period.start.date(), period.end.date())

    @classmethod
    def last_ended(cls, today: date, months: int) -> RhythmPeriod:
        """The latest period that ended before `today`."""
        return cls.containing(cls.containing(today, months).first_day - timedelta(days=1), months)

    @property
    def end(self) -> datetime:
        """The first instant after the period, in business time."""
        return datetime.combine(self.end_day, time(), BUSINESS_TZ)


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    branch_id: str
    kind: MeetingKind
    held_on: date
    at: datetime  # when it was recorded: the newest record of a meeting holds
    ref: EventKey
    absent: frozenset[str]  # absent, or on leave not granted
    expected: frozenset[str]  # everyone it names


@dataclass(frozen=True)
class Run:
    """A member's absences in a row, oldest first."""

    meetings: tuple[Meeting, ...]
    ended_by: Meeting | None  # the meeting the member next attended (or had leave for)


@dataclass
class OrganisationLife:
    """The meetings folded, indexed for the rules: by branch and kind, by member in order."""

    meetings: dict[str, Meeting] = field(default_factory=dict)
    held: defaultdict[tuple[str, str], list[tuple[date, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    record: defaultdict[str, list[tuple[date, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # each member's meetings, in order of the day held
    branch_since: dict[str, date] = field(default_factory=dict)  # first registered
    first_meeting: dict[str, date] = field(default_factory=dict)  # the day of each branch's first
    ended_runs: dict[str, Run] = field(default_factory=dict)  # each member's last flagged run

    def branch_registered(self, branch_id: str, at: datetime) -> None:
        day = at.astimezone(BUSINESS_TZ).date()
        self.branch_since[branch_id] = min(day, self.branch_since.get(branch_id, day))

    def meeting_held(self, data: ev.MeetingHeld, at: datetime, ref: EventKey) -> set[str]:
        """Fold a meeting (or a newer record of one); returns the members whose record changed."""
        earlier = self.meetings.get(data.meeting_id)
        if earlier is not None and earlier.at > at:
            return set()
        absent = {*data.absentees, *(leave.member_id for leave in data.leaves if not leave.granted)}
        expected = {*data.attendees, *(leave.member_id for leave in data.leaves), *data.absentees}
        meeting = Meeting(data.meeting_id, data.branch_id, data.kind, data.held_on, at, ref,
                          frozenset(absent), frozenset(expected))  # fmt: skip
        changed = set(expected)
        if earlier is not None:
            self.held[(earlier.branch_id, earlier.kind)].remove(
                (earlier.held_on, earlier.meeting_id)
            )
            for member_id in earlier.expected:
                self.record[member_id].remove((earlier.held_on, earlier.meeting_id))
            changed |= earlier.expected
        before = {member_id: self.trailing_run(member_id) for member_id in changed}
        self.meetings[data.meeting_id] = meeting
        first = self.first_meeting.get(data.branch_id, data.held_on)
        self.first_meeting[data.branch_id] = min(first, data.held_on)
        insort(self.held[(data.branch_id, data.kind)], (data.held_on, data.meeting_id))
        for member_id in expected:
            insort(self.record[member_id], (data.held_on, data.meeting_id))
        for member_id, run in before.items():
            now = self.trailing_run(member_id)
            if len(run) >= ABSENCES_FLAGGED_AT and (not now or now[0] != run[0]):
                self.ended_runs[member_id] = Run(run, self._next_present(member_id, run[-1]))
        return changed

    def held_since(self, branch_id: str, kind: str, day: date) -> Meeting | None:
        """The first meeting of the kind the branch held on or after `day`."""
        held = self.held.get((branch_id, kind), [])
        index = bisect_left(held, (day, ""))
        return self.meetings[held[index][1]] if index < len(held) else None

    def trailing_run(self, member_id: str) -> tuple[Meeting, ...]:
        """The member's latest absences in a row (none when they attended the latest meeting
        they were expected at), oldest first. Its work is the run's length."""
        run: list[Meeting] = []
        for _, meeting_id in reversed(self.record.get(member_id, [])):
            meeting = self.meetings[meeting_id]
            if member_id not in meeting.absent:
                break
            run.append(meeting)
        return tuple(reversed(run))

    def _next_present(self, member_id: str, after: Meeting) -> Meeting | None:
        record = self.record.get(member_id, [])
        index = bisect_left(record, (after.held_on, after.meeting_id)) + 1
        for _, meeting_id in record[index:]:
            meeting = self.meetings[meeting_id]
            if member_id not in meeting.absent:
                return meeting
        return None

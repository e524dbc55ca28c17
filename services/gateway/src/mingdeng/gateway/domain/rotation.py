"""Speaker rotation of the 财政月讲堂: who has spoken this year, who has not yet, who is next.

Next: the speakers of the lectures scheduled from today on and not yet delivered, soonest
first. When nothing is scheduled, the party members who have not spoken this year, the one who
has waited longest first: never spoken before anyone, then by their last lecture, oldest
first, then by member id. A member who left is not on the roster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Speaker:
    member_id: str
    name: str
    department_id: str


@dataclass(frozen=True)
class Scheduled:
    lecture_id: str
    on: date
    title: str
    speaker_id: str


@dataclass(frozen=True)
class Turn:
    member_id: str
    name: str
    department_id: str
    sessions_this_year: int
    last_spoke_on: date | None
    scheduled_on: date | None = None


@dataclass(frozen=True)
class Rotation:
    year: int
    spoken: list[Turn]  # most lectures this year first
    not_yet: list[Turn]  # longest waiting first
    upcoming: list[Scheduled]  # soonest first
    next: list[Turn]
    next_rule: str  # "scheduled" or "longest_waiting"


def rotation(
    roster: list[Speaker],
    deliveries: list[tuple[str, datetime]],
    scheduled: list[Scheduled],
    year: int,
    today: date,
    most_next: int = 6,
) -> Rotation:
    """`deliveries`: (speaker id, when delivered, in business time) of every lecture given."""
    last: dict[str, date] = {}
    this_year: dict[str, int] = {}
    for speaker_id, moment in deliveries:
        day = moment.date()
        last[speaker_id] = max(day, last.get(speaker_id, day))
        if day.year == year:
            this_year[speaker_id] = this_year.get(speaker_id, 0) + 1
    by_id = {s.member_id: s for s in roster}

    def turn(speaker: Speaker, on: date | None = None) -> Turn:
        return Turn(speaker.member_id, speaker.name, speaker.department_id,
                    this_year.get(speaker.member_id, 0), last.get(speaker.member_id), on)  # fmt: skip

    spoken = sorted((turn(s) for s in roster if s.member_id in this_year),
                    key=lambda t: (-t.sessions_this_year, t.member_id))  # fmt: skip
    not_yet = sorted((turn(s) for s in roster if s.member_id not in this_year),
                     key=lambda t: (t.last_spoke_on is not None, t.last_spoke_on or date.min,
                                    t.member_id))  # fmt: skip
    upcoming = sorted((s for s in scheduled if s.on >= today), key=lambda s: (s.on, s.lecture_id))
    if upcoming:
        named = [(by_id.get(s.speaker_id), s.on) for s in upcoming]
        next_turns = [turn(s, on) for s, on in named if s is not None][:most_next]
        return Rotation(year, spoken, not_yet, upcoming, next_turns, "scheduled")
    return Rotation(year, spoken, not_yet, [], not_yet[:most_next], "longest_waiting")

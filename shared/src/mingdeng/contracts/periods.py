"""Business periods. Every period is computed in the bureau's time zone, Asia/Shanghai."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")

QUARTER_PATTERN = r"^\d{4}Q[1-4]$"
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
YEAR_PATTERN = r"^\d{4}$"
PERIOD_PATTERN = r"^\d{4}(Q[1-4]|-(0[1-9]|1[0-2]))?$"
QUARTER_OR_MONTH_PATTERN = r"^\d{4}(Q[1-4]|-(0[1-9]|1[0-2]))$"


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        if not re.fullmatch(QUARTER_PATTERN, text):
            raise ValueError(f"not a quarter like 2026Q4: {text!r}")
        return cls(int(text[:4]), int(text[5]))

    @classmethod
    def of(cls, moment: datetime) -> Quarter:
        starts, quarters = _quarter_starts()
        at = moment.timestamp()
        if starts[0] <= at < starts[-1]:  # looked up: astimezone costs more than the rest
            return quarters[bisect_right(starts, at) - 1]
        local = moment.astimezone(BUSINESS_TZ)
        return cls(local.year, (local.month - 1) // 3 + 1)

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> datetime:
        """The first instant after the quarter, in business time."""
        nxt = self.next()
        return datetime(nxt.year, 3 * nxt.number - 2, 1, tzinfo=BUSINESS_TZ)

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=BUSINESS_TZ)

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def contains(self, moment: datetime) -> bool:
        return Quarter.of(moment) == self

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


@dataclass(frozen=True)
class Period:
    """A quarter (`2026Q4`) or a month (`2026-11`) in business time."""

    name: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str) -> Period:
        if re.fullmatch(QUARTER_PATTERN, text):
            quarter = Quarter.parse(text)
            return cls(text, quarter.start, quarter.end)
        if not re.fullmatch(MONTH_PATTERN, text):
            raise ValueError(f"not a quarter like 2026Q4 or a month like 2026-11: {text!r}")
        year, month = int(text[:4]), int(text[5:7])
        start = datetime(year, month, 1, tzinfo=BUSINESS_TZ)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=BUSINESS_TZ)
        return cls(text, start, end)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def quarters_of_year(year: int) -> list[Quarter]:
    return [Quarter(year, n) for n in range(1, 5)]


def month_of(moment: datetime) -> str:
    local = moment.astimezone(BUSINESS_TZ)
    return f"{local.year:04d}-{local.month:02d}"


def month_after(month: str) -> str:
    """`2026-12` -> `2027-01`."""
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


@cache
def _quarter_starts() -> tuple[list[float], list[Quarter]]:
    """The instants the quarters of 1990-2099 begin, in the business time zone, in order."""
    quarters = [Quarter(year, n) for year in range(1990, 2100) for n in range(1, 5)]
    starts = [
        datetime(q.year, 3 * q.number - 2, 1, tzinfo=BUSINESS_TZ).timestamp() for q in quarters
    ]
    return starts, quarters

"""Periods and dates as the bureau writes them in its documents (the API keeps `2026Q4`,
`2026-11`): 2026年第四季度, 2026年11月, 2026年12月1日 (成文日期 as GB/T 9704-2012 writes it:
Arabic numerals, the year in full, no leading zeros)."""

from __future__ import annotations

from datetime import date as Date

from mingdeng.contracts.periods import Quarter

QUARTER_NUMBERS = {1: "一", 2: "二", 3: "三", 4: "四"}


def quarter(text: str) -> str:
    """2026Q4 → 2026年第四季度."""
    parsed = Quarter.parse(text)
    return f"{parsed.year}年第{QUARTER_NUMBERS[parsed.number]}季度"


def month(text: str) -> str:
    """2026-11 → 2026年11月."""
    year, number = text.split("-")
    return f"{year}年{int(number)}月"


def day(moment: Date) -> str:
    """A date as pages write it: 2026年12月1日."""
    return f"{moment.year}年{moment.month}月{moment.day}日"


def issuer(bureau: str) -> str:
    """发文机关 of the office's documents: the bureau's 机关党委 by its full name."""
    return f"中共{bureau}机关委员会"

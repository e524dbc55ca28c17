"""Periods and dates as the bureau writes them in its documents (the API keeps `2026Q4`,
`2026-11`): 2026年第四季度, 2026年11月, 2026年12月1日 (成文日期 as GB/T 9704-2012 writes it:
Arabic numerals, the year in full, no leading zeros)."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter

QUARTER_NUMBERS = {1: "一", 2: "二", 3: "三", 4: "四"}
# 《财政干部“十不准”》: the first rule in the report's words; the others as the bureau's
# inspections find them (what the demo's findings fall under)
CONDUCT_RULES = {
    1: "不准在上班时间炒股、玩游戏、打牌、购物、就餐、出入休闲娱乐场所等做与工作无关的事",
    2: "不准迟到早退、擅离岗位，因公外出须报备",
    3: "不准工作日午间饮酒、酒后上岗",
    4: "不准对办事群众态度生硬、推诿扯皮",
    5: "不准拖延办理公文和业务事项",
    6: "不准公车私用、违规停放公务用车",
    7: "不准上班不按规定着装、不佩戴工作牌",
    8: "不准在办公区域吸烟",
    9: "不准在会议和学习期间玩手机、随意走动",
    10: "不准值班期间脱岗、漏岗",
}


def quarter(text: str) -> str:
    """2026Q4 → 2026年第四季度."""
    parsed = Quarter.parse(text)
    return f"{parsed.year}年第{QUARTER_NUMBERS[parsed.number]}季度"


def month(text: str) -> str:
    """2026-11 → 2026年11月."""
    year, number = text.split("-")
    return f"{year}年{int(number)}月"


def day(moment: Date) -> str:
    """A date (a moment: its date in Beijing) as pages write it: 2026年12月1日."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(BUSINESS_TZ).date()
    return f"{moment.year}年{moment.month}月{moment.day}日"


def issue_number(month_text: str) -> str:
    """期号 of a month's 督查通报: one issue a month, 2026-11 → 2026年第11期."""
    year, number = month_text.split("-")
    return f"{year}年第{int(number)}期"


def issuer(bureau: str) -> str:
    """发文机关 of the office's documents: the bureau's 机关党委 by its full name."""
    return f"中共{bureau}机关委员会"

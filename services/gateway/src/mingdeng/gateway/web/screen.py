"""数据大屏 (1920×1080, public, live): the quarter's top ten by Vanguard with rank numbers,
every department's and branch's Fortress Index, the 财政月讲堂 and the household coverage by
month, the 党员 structure where the registry has it, and a scrolling feed of the latest good
news in words. It shows names, departments, indices and counts, never a violation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import APIRouter, Request, Response

from mingdeng.contracts.periods import BUSINESS_TZ, Quarter
from mingdeng.gateway.entrypoints.answers import CoverageAnswer, FortressRanking, VanguardRanking
from mingdeng.gateway.web import labels
from mingdeng.gateway.web.pages import page
from mingdeng.gateway.web.reads import Api, ScreenApi

router = APIRouter(include_in_schema=False)
MONTHS = 12
FEED = 14
TEXT = "#f5e6c8"
GOLD = "#ffd54f"
FONT = 28  # legible at three metres, in the charts as on the page


@dataclass(frozen=True)
class FeedItem:
    at: datetime
    words: str

    @property
    def when(self) -> str:
        return self.at.astimezone(BUSINESS_TZ).strftime("%m-%d %H:%M")


def months_back(today: date, count: int) -> list[str]:
    month = today.replace(day=1)
    found = []
    for _ in range(count):
        found.append(month.strftime("%Y-%m"))
        month = (month - timedelta(days=1)).replace(day=1)
    return list(reversed(found))


async def lectures_by_month(pool: asyncpg.Pool, first: str) -> dict[str, tuple[int, int]]:
    """Lectures delivered (微课堂) and attendances (人次) by month (Beijing) from `first` on."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            """SELECT to_char(l.delivered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month,
                      count(DISTINCT l.lecture_id) AS lectures, count(a.member_id) AS attendances
                 FROM lectures l
                 LEFT JOIN attendances a ON a.lecture_id = l.lecture_id
                WHERE l.delivered_at IS NOT NULL
                  AND to_char(l.delivered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') >= $1
                GROUP BY 1""",
            first,
        )
    return {r["month"]: (r["lectures"], r["attendances"]) for r in rows}


async def structure(pool: asyncpg.Pool, today: date) -> tuple[dict[str, int], dict[str, int]]:
    """Active members: party members or not; party members by age (those with a birth date)."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT m.party_member, m.born_on FROM active_members a"
            " JOIN members m USING (member_id)"
        )
    kinds = {"中共党员": 0, "其他干部职工": 0}
    ages = {"35岁及以下": 0, "36至45岁": 0, "46至55岁": 0, "56岁及以上": 0}
    for row in rows:
        kinds["中共党员" if row["party_member"] else "其他干部职工"] += 1
        born: date | None = row["born_on"]
        if row["party_member"] and born is not None:
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            band = 0 if age <= 35 else 1 if age <= 45 else 2 if age <= 55 else 3
            ages[list(ages)[band]] += 1
    return kinds, ages


async def feed(pool: asyncpg.Pool) -> list[FeedItem]:
    """The latest good news: lectures given (with their attendance), commendations delivered,
    the bureau's reported figures."""
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            """(SELECT l.delivered_at AS at, 'lecture' AS kind, m.name, l.title AS what,
                       (SELECT count(*) FROM attendances a
                         WHERE a.lecture_id = l.lecture_id)::float8 AS value, '' AS unit
                  FROM lectures l JOIN members m ON m.member_id = l.delivered_by
                 WHERE l.delivered_at IS NOT NULL ORDER BY l.delivered_at DESC LIMIT $1)
               UNION ALL
               (SELECT (t.body->>'done_at')::timestamptz, 'commendation', m.name,
                       t.body->>'cause', 0, ''
                  FROM tasks t JOIN members m ON m.member_id = t.member_id
                 WHERE t.kind = 'commendation' AND t.status = 'done'
                   AND t.body->>'done_at' IS NOT NULL
                 ORDER BY 1 DESC LIMIT $1)
               UNION ALL
               (SELECT k.reported_at, 'kpi', k.period, k.metric, k.value, coalesce(k.unit, '')
                  FROM kpis k WHERE k.subject_type = 'bureau'
                 ORDER BY k.reported_at DESC LIMIT 4)
               ORDER BY at DESC LIMIT $1""",
            FEED,
        )
    return [FeedItem(r["at"], _words(r["kind"], r["name"], r["what"] or "", r["value"], r["unit"]))
            for r in rows]  # fmt: skip


def _words(kind: str, name: str, what: str, value: float, unit: str) -> str:
    if kind == "lecture":
        return f"{name}主讲《{what}》，{value:.0f}人参学"
    if kind == "commendation":
        return f"{labels.EXEMPLAR}{name}（{labels.quarter(what)}）的喜报送到家中"
    return f"{name} {labels.metric(what)} {value:g}{unit}"


def _bars(names: list[str], values: list[float], colour: str) -> dict[str, Any]:
    """Horizontal bars, best on top, the value at each bar's end (the scale to the best)."""
    return {
        "grid": {"left": 8, "right": 90, "top": 4, "bottom": 4, "containLabel": True},
        "xAxis": {"type": "value", "min": 0, "max": max(values, default=1) * 1.05, "show": False},
        "yAxis": {"type": "category", "inverse": True, "data": names,
                  "axisLabel": {"color": TEXT, "fontSize": FONT}, "axisTick": {"show": False}},
        "series": [{"type": "bar", "data": values, "barWidth": "62%",
                    "itemStyle": {"color": colour, "borderRadius": [0, 4, 4, 0]},
                    "label": {"show": True, "position": "right", "color": GOLD,
                              "fontSize": FONT, "formatter": "{c}"}}],
    }  # fmt: skip


def _by_month(months: list[str], bars: list[Any], line: list[Any], names: tuple[str, str],
              percent: bool = False) -> dict[str, Any]:  # fmt: skip
    axis = {"color": TEXT, "fontSize": FONT}
    return {
        "legend": {"top": 0, "itemWidth": 36, "itemHeight": 20,
                   "textStyle": {"color": TEXT, "fontSize": FONT}},
        "grid": {"left": 10, "right": 10, "top": 48, "bottom": 4, "containLabel": True},
        "xAxis": {"type": "category", "data": [f"{int(m[5:])}月" for m in months],
                  "axisLabel": axis},
        "yAxis": [{"type": "value", "axisLabel": axis, "splitLine": {"show": False},
                   "minInterval": 1},
                  {"type": "value", "axisLabel": {**axis, "formatter": "{value}%" if percent
                                                  else "{value}"},
                   "splitLine": {"lineStyle": {"color": "rgba(255,255,255,.12)"}},
                   **({"max": 100} if percent else {})}],
        "series": [
            {"type": "bar", "name": names[0], "data": bars, "itemStyle": {"color": "#c62828"}},
            {"type": "line", "name": names[1], "yAxisIndex": 1, "data": line, "smooth": True,
             "symbolSize": 10, "lineStyle": {"width": 4, "color": GOLD},
             "itemStyle": {"color": GOLD}},
        ],
    }  # fmt: skip


def _donut(parts: dict[str, int], colours: list[str]) -> dict[str, Any]:
    """A ring with its legend beside it: name, count and share."""
    total = sum(parts.values()) or 1
    shown = {f"{k} {v}人 {100 * v / total:.0f}%": v for k, v in parts.items()}
    return {
        "color": colours,
        "legend": {"orient": "vertical", "right": 0, "top": "middle", "itemGap": 14,
                   "textStyle": {"color": TEXT, "fontSize": FONT}},
        "series": [{"type": "pie", "radius": ["45%", "85%"], "center": ["20%", "50%"],
                    "data": [{"name": k, "value": v} for k, v in shown.items()],
                    "label": {"show": False}}],
    }  # fmt: skip


async def screen_data(request: Request, api: Api) -> dict[str, Any]:
    now = datetime.now(UTC)
    today = now.astimezone(BUSINESS_TZ).date()
    quarter = str(Quarter.of(now))
    months = months_back(today, MONTHS)
    pool = request.app.state.pool
    path = f"/v1/quarters/{quarter}"
    members = await api.get(VanguardRanking, f"{path}/vanguard", {"limit": 10})
    departments = await api.get(FortressRanking, f"{path}/fortress", {"limit": 500})
    branches = await api.get(FortressRanking, f"{path}/fortress", {"level": "branch", "limit": 500})
    coverage = {
        month: await api.find(CoverageAnswer, f"/v1/outreach/coverage/{month}") for month in months
    }
    names = {d.id: d.name for d in departments.items}
    lectures = await lectures_by_month(pool, months[0])
    kinds, ages = await structure(pool, today)
    charts = {
        "departments": _bars([d.name for d in departments.items],
                             [round(d.index, 1) for d in departments.items], "#e53935"),
        "branches": _bars([b.name for b in branches.items],
                          [round(b.index, 1) for b in branches.items], "#c79a2c"),
        "lectures": _by_month(months, [lectures.get(m, (None, None))[0] for m in months],
                              [lectures.get(m, (None, None))[1] for m in months],
                              ("微课堂（场）", "参学（人次）")),
        "coverage": _by_month(
            months, [c.visited if c else None for c in coverage.values()],
            [round(100 * c.rate, 1) if c and c.rate is not None else None
             for c in coverage.values()],
            ("走访结对户（户）", "覆盖率（%）"), percent=True),
        "kinds": _donut(kinds, ["#e53935", "#8d6e63"]),
        "ages": _donut(ages, ["#ffd54f", "#ffb300", "#e57373", "#c62828"]),
    }  # fmt: skip
    return {
        "bureau": request.app.state.settings.bureau_name,
        "quarter": quarter,
        "members": members,
        "department_names": names,
        "department_rows": max(1, len(departments.items)),
        "branch_rows": max(1, len(branches.items)),
        "charts": {name: json.dumps(chart, ensure_ascii=False) for name, chart in charts.items()},
        "has_ages": any(ages.values()),
        "kinds": kinds,
        "feed": await feed(pool),
        "updated": now.astimezone(BUSINESS_TZ).strftime("%H:%M:%S"),
    }


@router.get("/screen")
async def screen(request: Request, api: ScreenApi, fragment: bool = False) -> Response:
    """数据大屏 (1920×1080): redrawn on /screen/live (the index-change stream)."""
    data = await screen_data(request, api)
    template = "screen_live.html" if fragment else "screen.html"
    return page(request, template, title="数据大屏", **data)
